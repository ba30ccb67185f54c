/** Sending an L4 service's traffic to the node proxy. */
import type { MeshIR } from '@tendril/model';

/**
 * Redirects `ir.l4Services[index]` to node-proxy port `port`. The entry is replaced by a copy, never
 * changed in place: a TranslationMemo hands the same IR items to every translation whose inputs did not
 * change, so an item changed in place would carry the redirect into translations that no longer want it.
 */
export function redirectToProxy(ir: MeshIR, index: number, port: number): void {
  ir.l4Services[index] = { ...ir.l4Services[index]!, l7Redirect: { port } };
}
