// Puts the Messages section into an element the page already has (the phone page's section): a plain
// function, so a page without its own preact tree needs one line to show it.
import { render } from 'preact';
import { Messages, type MessagesProps } from './messages.js';

export function mountMessages(root: HTMLElement, props: MessagesProps): () => void {
  render(<Messages {...props} />, root);
  return () => render(null, root);
}
