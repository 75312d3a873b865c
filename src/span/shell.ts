/**
 * DBG_SHELL, as DragonFly's service daemon answers it: one-way text commands,
 * text replies in aux (DBG_SHELL|REPLY).
 */
import type { Router } from './router.ts';

export function answerShell(router: Router, line: string): string {
  const [cmd = ''] = line.trim().split(/\s+/);
  switch (cmd) {
    case '':
    case 'help':
      return 'commands:\n  help   this list\n  tree   the span table\n  links  attached links\n';
    case 'tree': {
      const tree = router.describeTree();
      return tree === '' ? '(no spans)\n' : tree;
    }
    case 'links':
      return router.links.map((l) => `${l.connId} ${l.peerName ?? '?'} ${l.peerNodeId ?? ''}`.trimEnd()).join('\n') + '\n';
    default:
      return `unknown command '${cmd}'; try help\n`;
  }
}
