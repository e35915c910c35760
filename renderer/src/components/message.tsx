import { useState, type FormEvent, type ReactNode } from 'react';

import type { Message as StoredMessage } from '../../../main/ipc/contract.ts';
import { useAppStore } from '../store/store-context.tsx';
import { Citations } from './citations.tsx';
import { Markdown } from './markdown.tsx';

const STOP_NOTES: Partial<Record<NonNullable<StoredMessage['stopReason']>, string>> = {
  cancelled: 'Stopped.',
  max_tokens: 'Cut at the answer length limit.',
  context_full: 'Cut: the context is full.',
};

interface TurnProps {
  role: StoredMessage['role'];
  text: string;
  note?: string;
  streaming?: boolean;
  children?: ReactNode;
}

export function Turn({ role, text, note, streaming, children }: TurnProps) {
  return (
    <li className={`turn ${role}`} data-role={role} data-streaming={streaming ? 'true' : undefined}>
      <span className="who">{role === 'user' ? 'You' : 'Squeeze'}</span>
      <div className="text">{role === 'assistant' && text ? <Markdown text={text} /> : text || (streaming ? '…' : '')}</div>
      {note && <span className="note">{note}</span>}
      {children}
    </li>
  );
}

function EditQuestion({ message, onDone }: { message: StoredMessage; onDone: () => void }) {
  const edit = useAppStore((s) => s.edit);
  const [text, setText] = useState(message.content);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    onDone();
    void edit(message.id, text);
  };
  return (
    <form className="edit" onSubmit={submit}>
      <textarea aria-label="Edit question" value={text} rows={2} onChange={(e) => setText(e.target.value)} autoFocus />
      <div className="row">
        <button type="submit" disabled={!text.trim()}>
          Send edited question
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** A stored message with what the user can do with it: edit a question; regenerate the last answer. */
export function Message({ message, last, hasDocuments }: { message: StoredMessage; last: boolean; hasDocuments: boolean }) {
  const busy = useAppStore((s) => s.pending !== undefined);
  const ready = useAppStore((s) => s.model.state === 'ready');
  const regenerate = useAppStore((s) => s.regenerate);
  const [editing, setEditing] = useState(false);
  const note = message.stopReason ? STOP_NOTES[message.stopReason] : undefined;
  if (message.role === 'user') {
    if (editing) return <li className="turn user" data-role="user"><EditQuestion message={message} onDone={() => setEditing(false)} /></li>;
    return (
      <Turn role="user" text={message.content}>
        <div className="actions">
          <button type="button" className="link" onClick={() => setEditing(true)} disabled={busy || !ready}>
            Edit
          </button>
        </div>
      </Turn>
    );
  }
  return (
    <Turn role="assistant" text={message.content} note={note}>
      {message.citations && message.citations.length > 0 && <Citations citations={message.citations} />}
      {last && (
        <div className="actions">
          <button type="button" className="link" onClick={() => void regenerate()} disabled={busy || !ready}>
            Regenerate
          </button>
          {hasDocuments && message.stats?.attention !== 'dense' && (
            <button type="button" className="link" onClick={() => void regenerate('dense')} disabled={busy || !ready}>
              Answer again with full attention
            </button>
          )}
        </div>
      )}
    </Turn>
  );
}
