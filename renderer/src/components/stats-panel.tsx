import type { AnswerStats, SqueezeStats } from '../../../main/ipc/contract.ts';
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

const NONE = '—';
const ms = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
const rate = (x: number) => `${x.toFixed(1)} tokens/s`;
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Mean document keys attended per KV head and lookup, over every layer and head. */
function meanKeys(s: SqueezeStats): number {
  const cells = s.keysPerHead.flat();
  return cells.reduce((a, b) => a + b, 0) / Math.max(1, cells.length);
}

function attentionText(stats: AnswerStats): string {
  if (stats.attention === 'dense') return 'Dense (full attention)';
  if (!stats.squeeze) return NONE;
  const target = stats.squeeze.target !== undefined ? `, target ${Math.round(100 * stats.squeeze.target)}%` : '';
  return `Squeezed${target}`;
}

/** White (0% skipped) to deep blue (100%): the more keys skipped, the darker the cell. */
function cellColour(sparsity: number): string {
  return `hsl(220 70% ${Math.round(97 - 55 * Math.min(1, Math.max(0, sparsity)))}%)`;
}

function Heatmap({ squeeze }: { squeeze: SqueezeStats }) {
  const heads = squeeze.keysPerHead[0]?.length ?? 0;
  const fixed = Math.max(1, squeeze.fixedTokens);
  return (
    <table className="heatmap">
      <caption>Sparsity per layer and KV head: share of the {squeeze.fixedTokens} document keys skipped</caption>
      <thead>
        <tr>
          <th scope="col">Layer</th>
          {Array.from({ length: heads }, (_, h) => (
            <th scope="col" key={h}>
              Head {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {squeeze.keysPerHead.map((row, layer) => (
          <tr key={layer}>
            <th scope="row">{layer}</th>
            {row.map((keys, h) => {
              const sparsity = 1 - keys / fixed;
              // React writes style through the CSSOM, which the CSP's style-src 'self' allows (no style attribute is parsed).
              return (
                <td key={h} style={{ background: cellColour(sparsity), color: sparsity > 0.6 ? '#fff' : '#1d2430' }} title={`${keys.toFixed(1)} of ${squeeze.fixedTokens} keys read`}>
                  {Math.round(100 * sparsity)}%
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function StatsList({ stats }: { stats: AnswerStats }) {
  const s = stats.squeeze;
  const evaluated = stats.nPrompt - stats.nPromptReused;
  return (
    <>
      <dl>
        <Row label="Attention" value={attentionText(stats)} />
        <Row label="Sparsity" value={s ? percent(s.sparsity) : NONE} />
        <Row label="Keys read" value={s ? `${meanKeys(s).toFixed(1)} of ${s.fixedTokens} per head (${percent(meanKeys(s) / Math.max(1, s.fixedTokens))})` : NONE} />
        <Row label="KV bytes read" value={s ? `${megabytes(s.bytesRead)} of ${megabytes(s.bytesDense)} dense` : NONE} />
        <Row label="Clusters" value={s ? s.clustersPerLevel.join(' → ') : NONE} />
        <Row label="Lookup time" value={s ? ms(s.lookupMs) : NONE} />
        <Row label="Attention time" value={s ? ms(s.attentionMs) : NONE} />
        {s?.fixedAttentionMs !== undefined && (
          <>
            <Row label="… over document keys" value={ms(s.fixedAttentionMs)} />
            <Row label="… over the conversation" value={ms(s.dynamicAttentionMs ?? 0)} />
            <Row label="… merging the two" value={ms(s.mergeMs ?? 0)} />
          </>
        )}
        <Row label="Other time" value={s ? ms(s.otherMs) : NONE} />
        <Row label="Decode speed" value={rate(stats.decodeTokensPerSecond)} />
        <Row label="Generated" value={`${stats.nGenerated} tokens in ${ms(stats.decodeMs)}`} />
        <Row label="Prefill" value={`${ms(stats.prefillMs)} for ${evaluated} new tokens (${rate(stats.prefillTokensPerSecond)})`} />
        <Row label="Prompt tokens evaluated" value={`${evaluated} of ${stats.nPrompt}`} />
        <Row label="Prompt tokens reused" value={`${stats.nPromptReused} of ${stats.nPrompt}`} />
        <Row label="Context used" value={`${stats.contextUsed} of ${stats.contextSize} tokens`} />
      </dl>
      <meter aria-label="Context used" min={0} max={stats.contextSize} value={stats.contextUsed} />
      {s && s.keysPerHead.length > 0 && <Heatmap squeeze={s} />}
    </>
  );
}

export function StatsPanel() {
  const stats = useLastStats();
  return (
    <section className="stats" aria-label="Statistics">
      <h2>Statistics</h2>
      {stats ? <StatsList stats={stats} /> : <p className="muted">Ask a question to see how the engine ran.</p>}
    </section>
  );
}
