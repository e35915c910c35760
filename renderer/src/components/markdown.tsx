/** @jsxRuntime automatic */
// Model answers as Markdown, rendered as React elements from markdown-parse.ts's tree: text is only
// ever text (React escapes it), links get an href only for http(s)/mailto and open outside the app
// (new tab in browser mode; the Electron shell hands them to the system browser). Alignment is a
// data attribute styled by app-ui.css: the CSP allows no inline style attributes.
// The pragma above: node tests load this file through tsx, which compiles JSX classically otherwise.
import type { ReactNode } from 'react';

import { parseMarkdown, type Block, type Inline } from './markdown-parse.ts';

function inlines(nodes: Inline[]): ReactNode[] {
  return nodes.map((node, i) => {
    switch (node.type) {
      case 'text':
        return node.text;
      case 'code':
        return <code key={i}>{node.text}</code>;
      case 'em':
        return <em key={i}>{inlines(node.children)}</em>;
      case 'strong':
        return <strong key={i}>{inlines(node.children)}</strong>;
      case 'strike':
        return <s key={i}>{inlines(node.children)}</s>;
      case 'break':
        return <br key={i} />;
      case 'link':
        return node.href ? (
          <a key={i} href={node.href} target="_blank" rel="noopener noreferrer">
            {inlines(node.children)}
          </a>
        ) : (
          <span key={i}>{inlines(node.children)}</span>
        );
    }
  });
}

/** An item's first paragraph shows bare, as in a tight list; what follows (a nested list) as blocks. */
function itemContent(blocks: Block[]): ReactNode {
  const [first, ...rest] = blocks;
  if (first?.type !== 'paragraph') return blocks.map(block);
  return [...inlines(first.children), ...rest.map((b, i) => block(b, `block-${i}`))];
}

function block(node: Block, i: number | string): ReactNode {
  switch (node.type) {
    case 'heading': {
      // An answer's headings sit below the page's own (h1 app, h2 panes).
      const Tag = `h${Math.min(6, node.level + 2)}` as 'h3';
      return <Tag key={i}>{inlines(node.children)}</Tag>;
    }
    case 'paragraph':
      return <p key={i}>{inlines(node.children)}</p>;
    case 'code':
      return (
        <pre key={i} data-language={node.language || undefined}>
          <code>{node.text}</code>
        </pre>
      );
    case 'quote':
      return <blockquote key={i}>{node.children.map(block)}</blockquote>;
    case 'list': {
      const items = node.items.map((item, j) => <li key={j}>{itemContent(item)}</li>);
      return node.ordered ? (
        <ol key={i} start={node.start === 1 ? undefined : node.start}>
          {items}
        </ol>
      ) : (
        <ul key={i}>{items}</ul>
      );
    }
    case 'table':
      return (
        <table key={i}>
          <thead>
            <tr>
              {node.header.map((cell, c) => (
                <th key={c} data-align={node.align[c]}>
                  {inlines(cell)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {node.rows.map((row, r) => (
              <tr key={r}>
                {row.map((cell, c) => (
                  <td key={c} data-align={node.align[c]}>
                    {inlines(cell)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      );
    case 'rule':
      return <hr key={i} />;
  }
}

export function Markdown({ text }: { text: string }) {
  return <div className="markdown">{parseMarkdown(text).map(block)}</div>;
}
