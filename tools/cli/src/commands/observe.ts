/** `tendril observe [--follow]`: L4 flows as the datapaths report them, one line each (as hubble observe). */
import { SUBJECTS, flowEventCodec, type FlowEvent } from '@tendril/contract';
import type { OutputFormat } from '../output.js';
import type { Session } from '../session.js';

export function flowLine(flow: FlowEvent): string {
  const at = flow.at.slice(11, 23);
  const service = `${flow.serviceName ?? ''}${flow.serviceName ? ' ' : ''}${flow.service.address}:${flow.service.port}`;
  // The caller, when the datapath saw it (every TCP connection; UDP only from a bound socket).
  const source = flow.source ? `${flow.sourceName ? `${flow.sourceName} ` : ''}${flow.source.address} -> ` : '';
  return `${at}  ${flow.node}  ${flow.protocol}  ${source}${service} -> ${flow.backend.address}:${flow.backend.port}  ${flow.verdict.toUpperCase()}  x${flow.count}`;
}

/** Prints flows for `seconds` (or until interrupted with --follow). */
export async function observe(session: Session, format: OutputFormat, options: { follow: boolean; seconds: number; max?: number }): Promise<void> {
  const subscription = session.nc.subscribe(SUBJECTS.flowsAll);
  let printed = 0;
  const stop = () => subscription.unsubscribe();
  process.once('SIGINT', stop);
  const timer = options.follow ? undefined : setTimeout(stop, options.seconds * 1000);
  for await (const message of subscription) {
    let flow: FlowEvent;
    try {
      flow = flowEventCodec.decode(message.data);
    } catch {
      continue;
    }
    process.stdout.write(format === 'table' ? flowLine(flow) + '\n' : JSON.stringify(flow) + '\n');
    printed++;
    if (options.max !== undefined && printed >= options.max) break;
  }
  if (timer) clearTimeout(timer);
  process.removeListener('SIGINT', stop);
  subscription.unsubscribe();
}
