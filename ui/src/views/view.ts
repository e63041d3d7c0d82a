export type ViewName = "chat" | "documents" | "history" | "spend" | "network" | "settings";

export interface View {
  root: HTMLElement;
  /** Called each time the view is navigated to: reload what the backend may have changed. */
  show(): Promise<void>;
}

export interface AppContext {
  navigate(name: ViewName): Promise<void>;
}
