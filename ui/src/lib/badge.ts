import type { AnswerView } from "../api";
import { answerFromView, type Routing } from "./answer";
import { formatMoney, formatPercent } from "./format";

export type BadgeKind = "local" | "escalated" | "stayed-local";

export interface BadgeModel {
  badge: BadgeKind;
  label: string;
  reason: string;
  confidence: string | null; // "87% confident", on local answers
  cost: string | null; // on escalated answers
  model: string | null;
}

/** null while the router has not decided yet. */
export function badgeOf(routing: Routing | null, locale?: string): BadgeModel | null {
  if (!routing) return null;
  const { decision, reason } = routing;
  if (decision === "keep") {
    const confidence = routing.local_confidence === null ? null : `${formatPercent(routing.local_confidence, locale)} confident`;
    return { badge: "local", label: confidence ? `Local · ${confidence}` : "Local", reason, confidence, cost: null, model: null };
  }
  if (decision === "escalate") {
    const model = routing.remote_model ?? "remote model";
    const amount = routing.cost ?? routing.estimated_cost;
    const cost = amount === null ? null : formatMoney(amount, routing.currency, locale);
    return { badge: "escalated", label: cost ? `Escalated to ${model} · ${cost}` : `Escalated to ${model}`, reason, confidence: null, cost, model };
  }
  return { badge: "stayed-local", label: "Stayed local", reason, confidence: null, cost: null, model: null };
}

export const badgeOfView = (view: AnswerView, locale?: string): BadgeModel => badgeOf(answerFromView(view).routing, locale)!;
