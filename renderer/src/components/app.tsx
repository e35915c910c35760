import { ChatList } from './chat-list.tsx';
import { ChatPane } from './chat-pane.tsx';
import { DocumentPane } from './document-pane.tsx';
import { ModelStatusLine } from './model-status.tsx';
import { StatsPanel } from './stats-panel.tsx';

export function App() {
  return (
    <div className="app">
      <header className="top">
        <h1>Squeeze</h1>
        <ModelStatusLine />
      </header>
      <aside className="side">
        <DocumentPane />
        <ChatList />
      </aside>
      <ChatPane />
      <StatsPanel />
    </div>
  );
}
