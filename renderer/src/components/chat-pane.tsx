import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

import type { Message } from '../../../main/ipc/contract.ts';
import { useAppStore } from '../store/store-context.tsx';

const STOP_NOTES: Partial<Record<NonNullable<Message['stopReason']>, string>> = {
  cancelled: 'Stopped.',
  max_tokens: 'Cut at the answer length limit.',
  context_full: 'Cut: the context is full.',
};

function Turn({ role, text, note, streaming }: { role: Message['role']; text: string; note?: string; streaming?: boolean }) {
  return (
    <li className={`turn ${role}`} data-role={role} data-streaming={streaming ? 'true' : undefined}>
      <span className="who">{role === 'user' ? 'You' : 'Squeeze'}</span>
      <div className="text">{text || (streaming ? '…' : '')}</div>
      {note && <span className="note">{note}</span>}
    </li>
  );
}

function Conversation() {
  const messages = useAppStore((s) => s.current?.messages);
  const pending = useAppStore((s) => (s.pending && s.pending.chatId === s.current?.id ? s.pending : undefined));
  const end = useRef<HTMLLIElement>(null);
  // A block body: recent Chromium returns a promise from scrollIntoView, which React would take for a cleanup.
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [messages, pending?.text]);
  return (
    <ol className="conversation" aria-label="Conversation" aria-live="polite">
      {(messages ?? []).map((m) => (
        <Turn key={m.id} role={m.role} text={m.content} note={m.stopReason ? STOP_NOTES[m.stopReason] : undefined} />
      ))}
      {pending && (
        <>
          <Turn role="user" text={pending.question} />
          <Turn role="assistant" text={pending.text} streaming note={pending.stopping ? 'Stopping…' : undefined} />
        </>
      )}
      <li ref={end} className="end" aria-hidden="true" />
    </ol>
  );
}

export function ChatPane() {
  const pending = useAppStore((s) => s.pending !== undefined);
  const ready = useAppStore((s) => s.model.state === 'ready');
  const chatError = useAppStore((s) => s.chatError);
  const send = useAppStore((s) => s.send);
  const stop = useAppStore((s) => s.stop);
  const [question, setQuestion] = useState('');
  const canSend = ready && !pending && question.trim().length > 0;

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (!canSend) return;
    void send(question);
    setQuestion('');
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey) submit(e);
  };

  return (
    <main className="chat">
      <Conversation />
      {chatError && (
        <p role="alert" className="error">
          {chatError.message}
        </p>
      )}
      <form className="ask" onSubmit={submit}>
        <textarea aria-label="Ask a question" placeholder={ready ? 'Ask a question about your documents' : 'Waiting for the model…'} value={question} rows={2} onChange={(e) => setQuestion(e.target.value)} onKeyDown={onKey} />
        <button type="submit" disabled={!canSend}>
          Send
        </button>
        <button type="button" onClick={() => void stop()} disabled={!pending}>
          Stop
        </button>
      </form>
    </main>
  );
}
