import { CALIBRATED_SPARSITIES, type Settings } from '../../../main/ipc/contract.ts';
import { useAppStore } from '../store/store-context.tsx';

/** Slider positions: dense, then the calibrated ladder (50% … 95% of document keys skipped). */
const POSITIONS: { label: string; change: Partial<Settings> }[] = [
  { label: 'Dense (full attention)', change: { attention: 'dense' } },
  ...CALIBRATED_SPARSITIES.map((sparsity) => ({ label: `${Math.round(100 * sparsity)}% sparsity`, change: { attention: 'squeezed' as const, sparsity } })),
];

function position(settings: Settings): number {
  if (settings.attention === 'dense') return 0;
  return 1 + CALIBRATED_SPARSITIES.findIndex((s) => Math.abs(s - settings.sparsity) < 1e-9);
}

export function SettingsPanel() {
  const settings = useAppStore((s) => s.settings);
  const system = useAppStore((s) => s.system);
  const settingsError = useAppStore((s) => s.settingsError);
  const updateSettings = useAppStore((s) => s.updateSettings);
  if (!settings || !system) {
    return (
      <section className="settings" aria-label="Settings">
        <h2>Settings</h2>
        {settingsError ? <p role="alert" className="error">{settingsError.message}</p> : <p className="muted">Loading…</p>}
      </section>
    );
  }
  const at = position(settings);
  const maxThreads = Math.max(system.hardwareThreads, settings.threads);
  return (
    <section className="settings" aria-label="Settings">
      <h2>Settings</h2>
      <label>
        Attention over documents: <strong>{POSITIONS[at].label}</strong>
        <input
          type="range"
          aria-label="Sparsity"
          aria-valuetext={POSITIONS[at].label}
          min={0}
          max={POSITIONS.length - 1}
          step={1}
          value={at}
          onChange={(e) => void updateSettings(POSITIONS[Number(e.target.value)].change)}
        />
      </label>
      <p className="muted">Higher sparsity reads fewer document keys per token: faster on long documents, a little less exact.</p>
      <label>
        Threads
        <select value={settings.threads} onChange={(e) => void updateSettings({ threads: Number(e.target.value) })}>
          {Array.from({ length: maxThreads }, (_, i) => i + 1).map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <label className="check">
        <input type="checkbox" checked={settings.gpu} disabled={!system.gpu.available} aria-describedby="gpu-note" onChange={(e) => void updateSettings({ gpu: e.target.checked })} />
        Use the GPU
      </label>
      <p id="gpu-note" className="muted">
        {system.gpu.available ? `${system.gpu.device ?? 'GPU available'}: chats without documents run there; document answers use the CPU's squeezed attention.` : `Unavailable: ${system.gpu.reason ?? 'no GPU found'}`}
      </p>
      {settingsError && (
        <p role="alert" className="error">
          {settingsError.message}
        </p>
      )}
    </section>
  );
}
