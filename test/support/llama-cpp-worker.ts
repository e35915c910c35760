// Child process of llama-cpp-reference.ts: runs llama.cpp (node-llama-cpp@3.21.1, prebuilt CPU
// binaries) on requests from its parent, one at a time. It lives in its own process because a
// malformed model makes llama.cpp abort the whole process.
import { statSync } from 'node:fs';
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel, type Token } from 'node-llama-cpp';
import type { ReferenceReply, ReferenceRequest, RunOptions } from './llama-cpp-reference.ts';

let llama: Promise<Llama> | undefined;
// llama.cpp's recent warnings and errors: appended to a failed request's message (e.g. why a load failed).
let recentLogs: string[] = [];
// Loaded models by path + size + mtime, so a test that rewrites a file at the same path gets the new one.
const models = new Map<string, Promise<LlamaModel>>();
const MAX_MODELS = 3;

function loadModel(modelPath: string): Promise<LlamaModel> {
  const st = statSync(modelPath);
  const key = `${modelPath}\0${st.size}\0${st.mtimeMs}`;
  let model = models.get(key);
  if (!model) {
    llama ??= getLlama({
      gpu: false, build: 'never', progressLogs: false, logLevel: LlamaLogLevel.warn,
      logger: (_level, message) => { recentLogs = [...recentLogs.slice(-19), message.trimEnd()]; },
    });
    model = llama.then((l) => l.loadModel({ modelPath, gpuLayers: 0 }));
    models.set(key, model);
    if (models.size > MAX_MODELS) {
      const [oldestKey, oldest] = models.entries().next().value as [string, Promise<LlamaModel>];
      models.delete(oldestKey);
      void oldest.then((m) => m.dispose(), () => undefined);
    }
  }
  return model;
}

/** A fresh context per request, so no KV state leaks between requests. */
async function withContext<T>(modelPath: string, nTokens: number, opts: RunOptions, f: (ctx: LlamaContext) => Promise<T>): Promise<T> {
  const model = await loadModel(modelPath);
  const ctx = await model.createContext({
    contextSize: Math.max(nTokens, 1),
    // One batch for the whole input, as a single prefill call of the engine under test.
    batchSize: Math.max(nTokens, 1),
    sequences: 1,
    flashAttention: false,
    threads: { ideal: opts.threads, min: opts.threads },
    experimentalKvCacheKeyType: opts.f32Kv ? 'F32' : 'F16',
    experimentalKvCacheValueType: opts.f32Kv ? 'F32' : 'F16',
    failedCreationRemedy: false,
  });
  try {
    return await f(ctx);
  } finally {
    await ctx.dispose();
  }
}

async function logProbs(req: Extract<ReferenceRequest, { op: 'logProbs' }>): Promise<Float32Array[]> {
  const wanted = new Set(req.positions ?? req.tokens.map((_, i) => i));
  return withContext(req.modelPath, req.tokens.length, req, async (ctx) => {
    const seq = ctx.getSequence();
    const out = await seq.controlledEvaluate(req.tokens.map((t, i) =>
      wanted.has(i) ? [t as Token, { generateNext: { probabilities: true } }] as const : t as Token));
    return (req.positions ?? req.tokens.map((_, i) => i)).map((pos) => {
      const probs = out[pos]?.next.probabilities;
      if (!probs) throw new Error(`llama.cpp returned no probabilities at position ${pos}`);
      // The map holds every vocabulary entry (greedy sampling filters none out).
      const lp = new Float32Array(probs.size).fill(NaN);
      // Probabilities arrive as f32 softmax values: log() is exact to ~1e-7 down to p ~ 1e-38;
      // smaller ones are f32 subnormals (imprecise) or 0 (-Infinity).
      for (const [token, p] of probs) {
        if (token >= lp.length) throw new Error(`token ${token} outside the vocabulary of ${lp.length} at position ${pos}`);
        lp[token] = Math.log(p);
      }
      return lp;
    });
  });
}

async function greedy(req: Extract<ReferenceRequest, { op: 'greedy' }>): Promise<number[]> {
  return withContext(req.modelPath, req.promptTokens.length + req.nTokens, req, async (ctx) => {
    const out: number[] = [];
    if (req.nTokens <= 0) return out;
    const seq = ctx.getSequence();
    for await (const token of seq.evaluate(req.promptTokens as Token[], { temperature: 0, yieldEogToken: true })) {
      out.push(token);
      if (out.length >= req.nTokens || (req.stopAtEog && ctx.model.isEogToken(token))) break;
    }
    return out;
  });
}

async function tokenize(req: Extract<ReferenceRequest, { op: 'tokenize' }>): Promise<number[][]> {
  const model = await loadModel(req.modelPath);
  return req.texts.map((text) => {
    const tokens = model.tokenize(text, req.special).map(Number);
    // llama.cpp's add_special: BOS/EOS only where the vocabulary asks for them (tokenizer.ggml.add_*_token).
    if (req.addBos && model.tokens.shouldPrependBosToken && model.tokens.bos !== null) tokens.unshift(model.tokens.bos);
    if (req.addBos && model.tokens.shouldAppendEosToken && model.tokens.eos !== null) tokens.push(model.tokens.eos);
    return tokens;
  });
}

async function detokenize(req: Extract<ReferenceRequest, { op: 'detokenize' }>): Promise<string[]> {
  const model = await loadModel(req.modelPath);
  return req.tokens.map((tokens) => model.detokenize(tokens as Token[], req.special));
}

function handle(req: ReferenceRequest): Promise<unknown> {
  switch (req.op) {
    case 'logProbs': return logProbs(req);
    case 'greedy': return greedy(req);
    case 'tokenize': return tokenize(req);
    case 'detokenize': return detokenize(req);
  }
}

// Requests run one after another: a context per request and a bounded model cache keep memory flat.
let queue: Promise<void> = Promise.resolve();
process.on('message', (req: ReferenceRequest) => {
  queue = queue.then(async () => {
    let reply: ReferenceReply;
    recentLogs = [];
    try {
      reply = { id: req.id, ok: true, result: await handle(req) };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      reply = { id: req.id, ok: false, error: [message, ...recentLogs].join('\n') };
    }
    process.send!(reply);
  });
});

// The parent went away (it never waits for an idle child): nothing is left to answer.
process.on('disconnect', () => process.exit(0));
