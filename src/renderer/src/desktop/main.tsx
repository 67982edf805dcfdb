// The desktop UI's entry: one Desktop (store, typed client, pushes), connected to the node, rendered by <App>.
import '../common/no-eval.js';
import { render } from 'preact';
import { connectDesktop } from './admin-connection.js';
import { App } from './app.js';
import { Desktop } from './desktop-store.js';

const desktop = new Desktop();
render(<App desktop={desktop} />, document.getElementById('root')!);
void connectDesktop(desktop);
