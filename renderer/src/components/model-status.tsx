import { useAppStore } from '../store/store-context.tsx';

function fileName(path: string | undefined): string {
  return path ? path.split(/[\\/]/).pop() ?? path : 'model';
}

export function ModelStatusLine() {
  const model = useAppStore((s) => s.model);
  const loadModel = useAppStore((s) => s.loadModel);
  // First run: the model manager's offer says what to do; the header only points at it.
  const firstRun = model.state !== 'ready' && model.error?.code === 'MODEL_NOT_DOWNLOADED';
  let text: string;
  if (firstRun) text = 'No model yet: get one under Models.';
  else if (model.state === 'ready') text = `${fileName(model.path)} ready: ${model.description ?? ''}, context ${model.contextSize ?? '?'} tokens`;
  else if (model.state === 'loading') text = `Loading ${fileName(model.path)}…`;
  else if (model.state === 'error') text = 'No model loaded.';
  else text = 'No model loaded yet.';
  return (
    <div className="model-status" role="status" aria-label="Model status" data-state={model.state}>
      <span>{text}</span>
      {model.error && !firstRun && (
        <span className="error">
          {model.error.message} ({model.error.code})
        </span>
      )}
      {model.state === 'error' && !firstRun && (
        <button type="button" onClick={() => void loadModel()}>
          Load the default model
        </button>
      )}
    </div>
  );
}
