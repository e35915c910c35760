import { useAppStore } from '../store/store-context.tsx';

export function ChatList() {
  const chats = useAppStore((s) => s.chats);
  const currentId = useAppStore((s) => s.current?.id);
  const busy = useAppStore((s) => s.pending !== undefined);
  const openChat = useAppStore((s) => s.openChat);
  const newChat = useAppStore((s) => s.newChat);
  return (
    <nav className="chat-list" aria-label="Chats">
      <h2>Chats</h2>
      <button type="button" onClick={() => void newChat()} disabled={busy}>
        New chat
      </button>
      <ul>
        {chats.map((c) => (
          <li key={c.id}>
            <button type="button" className="link" aria-current={c.id === currentId ? 'page' : undefined} disabled={busy} onClick={() => void openChat(c.id)}>
              {c.title || 'Untitled'}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
