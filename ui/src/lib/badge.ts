import type { AnswerView } from "../api";
import { answerFromView, type Routing } from "./answer";
import { formatMoney, formatPercent } from "./format";

export type BadgeKind = "local" | "escalated" | "stayed-local" | "pending";

export interface BadgeModel {
  badge: BadgeKind;
  label: string;
  reason: string;
  confidence: string | null; // "87% confident", on local answers
  cost: string | null; // on escalated answers
  model: string | null;
}

/** null while the router has not decided yet. An escalation whose remote call failed charged
 *  nothing and left the local answer in place, so it reads as stayed local, naming the failure. */
export function badgeOf(routing: Routing | null, remoteFailed = false, locale?: string): BadgeModel | null {
  if (!routing) return null;
  const { decision, reason } = routing;
  if (decision === "escalate" && remoteFailed) {
    const model = routing.remote_model ?? "the remote model";
    return { badge: "stayed-local", label: `Stayed local · ${model} failed`, reason, confidence: null, cost: null, model };
  }
  if (decision === "awaiting_approval") {
    const model = routing.remote_model ?? "the remote model";
    return { badge: "pending", label: `Local · waiting for your approval to ask ${model}`, reason, confidence: null, cost: null, model };
  }
  if (decision === "local") {
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

export const badgeOfView = (view: AnswerView, locale?: string): BadgeModel =>
  badgeOf(answerFromView(view).routing, view.remote_error !== null && view.remote_answer === null, locale)!;
