import { ChatList } from './chat-list.tsx';
import { ChatPane } from './chat-pane.tsx';
import { DocumentPane } from './document-pane.tsx';
import { DropZone } from './drop-zone.tsx';
import { FirstRunOffer, ModelManager } from './model-manager.tsx';
import { ModelStatusLine } from './model-status.tsx';
import { StatsPanel } from './stats-panel.tsx';
import './app-ui.css';

export function App() {
  return (
    <div className="app">
      <header className="top">
        <h1>Squeeze</h1>
        <ModelStatusLine />
      </header>
      <aside className="side">
        <FirstRunOffer />
        <DropZone>
          <DocumentPane />
        </DropZone>
        <ChatList />
        <ModelManager />
      </aside>
      <ChatPane />
      <StatsPanel />
    </div>
  );
}
