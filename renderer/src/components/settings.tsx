import type { Settings } from '../../../main/ipc/contract.ts';
import { useAppStore } from '../store/store-context.tsx';

interface Position {
  label: string;
  change: Partial<Settings>;
}

const percent = (sparsity: number) => `${Math.round(1000 * sparsity) / 10}%`;

/** Slider positions: dense, then each calibrated sparsity of the ladder (document keys skipped). */
function positions(ladder: readonly number[]): Position[] {
  return [
    { label: 'Dense (full attention)', change: { attention: 'dense' } },
    ...ladder.map((sparsity) => ({ label: `${percent(sparsity)} sparsity`, change: { attention: 'squeezed' as const, sparsity } })),
  ];
}

/** The ladder position answers use: the engine picks the calibrated sparsity nearest to the setting. */
function position(settings: Settings, ladder: readonly number[]): number {
  if (settings.attention === 'dense' || ladder.length === 0) return 0;
  let nearest = 0;
  ladder.forEach((s, i) => {
    if (Math.abs(s - settings.sparsity) < Math.abs(ladder[nearest] - settings.sparsity)) nearest = i;
  });
  return 1 + nearest;
}

export function SettingsPanel() {
  const settings = useAppStore((s) => s.settings);
  const system = useAppStore((s) => s.system);
  const settingsError = useAppStore((s) => s.settingsError);
  const updateSettings = useAppStore((s) => s.updateSettings);
  // The current chat's pack was calibrated for its own ladder; without one, the engine's applies.
  const packLadder = useAppStore((s) => s.current?.documents?.pack?.sparsities);
  if (!settings || !system) {
    return (
      <section className="settings" aria-label="Settings">
        <h2>Settings</h2>
        {settingsError ? <p role="alert" className="error">{settingsError.message}</p> : <p className="muted">Loading…</p>}
      </section>
    );
  }
  const ladder = packLadder ?? system.sparsities ?? [settings.sparsity];
  const steps = positions(ladder);
  const at = position(settings, ladder);
  const maxThreads = Math.max(system.hardwareThreads, settings.threads);
  return (
    <section className="settings" aria-label="Settings">
      <h2>Settings</h2>
      <label>
        Attention over documents: <strong>{steps[at].label}</strong>
        <input
          type="range"
          aria-label="Sparsity"
          aria-valuetext={steps[at].label}
          min={0}
          max={steps.length - 1}
          step={1}
          value={at}
          onChange={(e) => void updateSettings(steps[Number(e.target.value)].change)}
        />
      </label>
      <p className="muted">
        Higher sparsity reads fewer document keys per token: faster on long documents, a little less exact.{' '}
        {packLadder ? "Steps: the sparsities this chat's document pack is calibrated for." : 'Steps: the sparsities new document packs are calibrated for.'}
      </p>
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
