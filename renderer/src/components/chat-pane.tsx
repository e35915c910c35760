import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

import { useAppStore } from '../store/store-context.tsx';
import { PageViewer } from './citations.tsx';
import { Message, Turn } from './message.tsx';

function Conversation() {
  const messages = useAppStore((s) => s.current?.messages);
  const hasDocuments = useAppStore((s) => s.current?.documents !== undefined);
  const pending = useAppStore((s) => (s.pending && s.pending.chatId === s.current?.id ? s.pending : undefined));
  const end = useRef<HTMLLIElement>(null);
  // A block body: recent Chromium returns a promise from scrollIntoView, which React would take for a cleanup.
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [messages, pending?.text]);
  // While a regenerate or an edit is written, the messages it replaces are hidden.
  const cut = pending?.replacesFrom ? (messages ?? []).findIndex((m) => m.id === pending.replacesFrom) : -1;
  const shown = cut >= 0 ? messages!.slice(0, cut) : (messages ?? []);
  return (
    <ol className="conversation" aria-label="Conversation" aria-live="polite">
      {shown.map((m, i) => (
        <Message key={m.id} message={m} last={!pending && i === shown.length - 1} hasDocuments={hasDocuments} />
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
    const asked = question;
    setQuestion('');
    // A refused question (busy, context full) comes back to the box unless something new was typed.
    void send(asked).then((answered) => {
      if (!answered) setQuestion((current) => current || asked);
    });
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey) submit(e);
  };

  return (
    <main className="chat">
      <div className="chat-body">
        <Conversation />
        <PageViewer />
      </div>
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
