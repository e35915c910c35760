import type { AnswerStats } from '../../../main/ipc/contract.ts';
import { useAppStore } from '../store/store-context.tsx';

/** The measurements of the chat's latest answer (the one the user just read). */
function useLastStats(): AnswerStats | undefined {
  return useAppStore((s) => s.current?.messages.findLast((m) => m.role === 'assistant' && m.stats)?.stats);
}

function Row({ label, value }: { label: string; value: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </>
  );
}

const ms = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
const rate = (x: number) => `${x.toFixed(1)} tokens/s`;

export function StatsPanel() {
  const stats = useLastStats();
  return (
    <section className="stats" aria-label="Statistics">
      <h2>Statistics</h2>
      {stats ? (
        <>
          <dl>
            <Row label="Decode speed" value={rate(stats.decodeTokensPerSecond)} />
            <Row label="Generated" value={`${stats.nGenerated} tokens in ${ms(stats.decodeMs)}`} />
            <Row label="Prefill" value={`${ms(stats.prefillMs)} for ${stats.nPrompt - stats.nPromptReused} new tokens (${rate(stats.prefillTokensPerSecond)})`} />
            <Row label="Prompt tokens reused" value={`${stats.nPromptReused} of ${stats.nPrompt}`} />
            <Row label="Context used" value={`${stats.contextUsed} of ${stats.contextSize} tokens`} />
          </dl>
          <meter aria-label="Context used" min={0} max={stats.contextSize} value={stats.contextUsed} />
        </>
      ) : (
        <p className="muted">Ask a question to see how the engine ran.</p>
      )}
      <p className="muted">Attention is dense for now: sparsity is not measured until Squeezed Attention runs in the engine.</p>
    </section>
  );
}
