// The area that accepts dropped files and folders (the documents side of the window). While
// something is dragged over it, it says what a drop will do; after a drop it says what went wrong.
import { useState, type DragEvent, type ReactNode } from 'react';

import type { DroppedItem } from '../store/drop-slice.ts';
import { useAppStore } from '../store/store-context.tsx';

function droppedItems(transfer: DataTransfer): DroppedItem[] {
  const items: DroppedItem[] = [];
  for (const item of Array.from(transfer.items)) {
    if (item.kind !== 'file') continue;
    const file = item.getAsFile();
    if (file) items.push({ file, isDirectory: item.webkitGetAsEntry()?.isDirectory ?? false });
  }
  return items;
}

const carriesFiles = (e: DragEvent) => Array.from(e.dataTransfer.types).includes('Files');

export function DropZone({ children }: { children: ReactNode }) {
  const canDropFiles = useAppStore((s) => s.canDropFiles);
  const dropNotice = useAppStore((s) => s.dropNotice);
  const dropItems = useAppStore((s) => s.dropItems);
  const clearDropNotice = useAppStore((s) => s.clearDropNotice);
  const [over, setOver] = useState(false);

  const onDragOver = (e: DragEvent) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = canDropFiles ? 'copy' : 'none';
    setOver(true);
  };
  const onDrop = (e: DragEvent) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    setOver(false);
    void dropItems(droppedItems(e.dataTransfer));
  };
  return (
    <div
      className="drop-zone"
      data-over={over || undefined}
      onDragOver={onDragOver}
      onDragLeave={(e) => !e.currentTarget.contains(e.relatedTarget as Node | null) && setOver(false)}
      onDrop={onDrop}
    >
      {children}
      {over && (
        <p className="drop-hint" aria-hidden="true">
          {canDropFiles ? 'Drop a PDF or a folder to read it, or a .gguf model to use it' : 'Dropping files needs the desktop app'}
        </p>
      )}
      {dropNotice && (
        <p role="alert" className="error drop-notice">
          {dropNotice.message}{' '}
          <button type="button" className="link" onClick={clearDropNotice}>
            Dismiss
          </button>
        </p>
      )}
    </div>
  );
}
