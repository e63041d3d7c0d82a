// How the model table shows a catalog model's size, memory, speed and testing.
import type { CatalogModel, Recommendation, RouterStatus, SpeedStatus } from "../api";
import { formatBytes } from "./format";

const MIB = 1024 * 1024;

/** Tokens per second: whole numbers from 10 up, one decimal below. */
export function formatRate(tokensPerSec: number): string {
  return tokensPerSec >= 10 ? Math.round(tokensPerSec).toString() : tokensPerSec.toFixed(1);
}

/** "prefill 512 tok/s · decode 41 tok/s", "measuring speed…", "not measured yet", or why it failed. */
export function speedText(speed: SpeedStatus | null): string {
  if (speed === null) return "—";
  switch (speed.state) {
    case "not_measured":
      return "not measured yet";
    case "measuring":
      return "measuring speed…";
    case "measured":
      return `prefill ${formatRate(speed.prefill_tokens_per_sec)} tok/s · decode ${formatRate(speed.decode_tokens_per_sec)} tok/s`;
    case "failed":
      return `could not measure: ${speed.message}`;
  }
}

/** "1.2 GB"; "≥ 620 MB" before the download, when the KV cache is not known yet. */
export function memoryText(m: CatalogModel): string {
  if (m.memory_needed_mb === null) return "—";
  const shown = formatBytes(m.memory_needed_mb * MIB);
  return m.memory_exact ? shown : `≥ ${shown}`;
}

export const downloadText = (m: CatalogModel): string => formatBytes(m.download_bytes);

export const testedText = (m: CatalogModel): string => (m.tested_here ? "Yes" : "Not yet");

/** "Recommended: Qwen2.5 Coder 1.5B Instruct (recommended for 24 GiB RAM, 8 cores)". */
export function recommendationText(r: Recommendation, models: CatalogModel[]): string {
  const name = models.find((m) => m.id === r.model_id)?.name ?? r.model_id;
  return `Recommended: ${name} (${r.reason})`;
}

/** The router column: a run in progress (or why it failed), else what the router routes the model on. */
export function routerText(router: RouterStatus | null): string {
  if (router === null) return "—";
  const run = router.run;
  if (run) {
    switch (run.state) {
      case "queued":
        return "calibration starts after the speed measurement";
      case "indexing":
        return run.total ? `calibrating: reading texts ${run.done}/${run.total}…` : "calibrating: loading…";
      case "answering":
        return run.paused
          ? `calibration paused while you ask (${run.done}/${run.total})`
          : `calibrating: ${run.done}/${run.total} answered, ${run.correct} right…`;
      case "failed":
        return `calibration failed: ${run.message}`;
    }
  }
  const c = router.calibration;
  const learned = learningText(router);
  if (c.state === "calibrated") {
    const where = c.origin === "bundled" ? "calibrated (shipped)" : "calibrated on this machine";
    return `${where}: right on ${Math.round(c.local_accuracy * 100)}% of ${c.rows}${learned}`;
  }
  const kept = c.answered > 0 ? `; ${c.answered}/${c.total} answered, goes on from there` : "";
  return `not calibrated: escalates more than needed${kept}${learned}`;
}

/** What 👍/👎 and judged answers taught the router, with the accuracy it now routes on. */
function learningText(router: RouterStatus): string {
  const l = router.learning;
  if (!l || l.judged === 0) return "";
  const answers = l.judged === 1 ? "1 judged answer" : `${l.judged} judged answers`;
  return `; learned from ${answers} (${l.correct} right), now expects ${Math.round(l.local_accuracy * 100)}%`;
}

/** Whether there is anything for "Forget what it learned" to forget. */
export const hasLearned = (router: RouterStatus | null) => (router?.learning?.judged ?? 0) > 0;

/** True while a calibration waits or runs for this model. */
export const calibrating = (router: RouterStatus | null): boolean =>
  !!router?.run && router.run.state !== "failed";
