#!/usr/bin/env node
/**
 * The tendril CLI: what operators ask a running Tendril, over NATS only.
 * Exit codes: 0 all good; 1 the answer shows a problem (not ready, NACK, unknown node, nothing found);
 * 2 wrong use of the command line; 3 NATS or a bucket could not be reached.
 */
import { Command, CommanderError, Option } from 'commander';
import { envString } from '@tendril/platform/light';
import { NotFoundError, UnreachableError, UsageError, parseFormat, type OutputFormat } from './output.js';
import { Session, type GlobalOptions } from './session.js';
import { status } from './commands/status.js';
import { proxyStatus } from './commands/proxy-status.js';
import { configDump } from './commands/config-dump.js';
import { nodeServices, services } from './commands/services.js';
import { policyGet, policyTrace } from './commands/policy.js';
import { objects } from './commands/objects.js';
import { observe } from './commands/observe.js';
import { routes } from './commands/routes.js';
import { history, historyDiff } from './commands/history.js';
import { envoyBootstrap, type BootstrapCommandOptions } from './commands/envoy.js';

const program = new Command('tendril')
  .description('Ask a running Tendril what it is doing (over NATS).')
  .addOption(new Option('--nats <url>', 'NATS server(s) to ask').default(envString('TENDRIL_NATS_URL', 'nats://127.0.0.1:4222')).env('TENDRIL_NATS_URL'))
  .addOption(new Option('-o, --output <format>', 'table, json or yaml').default('table'))
  .addOption(new Option('--timeout <ms>', 'how long to wait for NATS').default('2000'))
  .showHelpAfterError()
  .exitOverride()
  .addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 a problem found (not ready, NACK, unknown node), 2 usage error, 3 NATS unreachable.

Examples:
  tendril status
  tendril proxy-status -o json
  tendril config dump --node envoy-node-1 --type cluster -o yaml
  tendril services
  tendril routes
  tendril history diff 3 7
  tendril objects --kind ingress
  tendril observe --follow`,
  );

/** Runs one command with a session, turning failures into messages and exit codes. */
function withSession(action: (session: Session, format: OutputFormat, command: Command) => Promise<void>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.optsWithGlobals<GlobalOptions>();
    const format = parseFormat(options.output);
    const session = await Session.open(options);
    try {
      await action(session, format, command);
    } finally {
      await session.close();
    }
  };
}

program
  .command('status')
  .description('every service instance found by NATS micro discovery: version, uptime, ready, key figures')
  .addHelpText('after', '\nExample:\n  tendril status -o json')
  .action(withSession((session, format) => status(session, format)));

program
  .command('proxy-status')
  .description('per proxy and xDS type: SYNCED, STALE or NACK with the error')
  .option('--node <id>', 'only this proxy')
  .addHelpText('after', '\nExample:\n  tendril proxy-status --node envoy-node-1')
  .action(withSession((session, format, command) => proxyStatus(session, format, command.opts<{ node?: string }>().node)));

const config = program.command('config').description('what proxies are served');
config
  .command('dump')
  .description('the exact xDS resources a node is served, decoded')
  .requiredOption('--node <id>', 'the proxy node id')
  .option('--type <type>', 'listener, route, cluster, endpoint or secret')
  .addHelpText('after', '\nExample:\n  tendril config dump --node envoy-node-1 --type endpoint -o json')
  .action(
    withSession((session, format, command) => {
      const { node, type } = command.opts<{ node: string; type?: string }>();
      return configDump(session, format, node, type);
    }),
  );

program
  .command('services')
  .description('the L4 table: VIP, backends, algorithm, affinity, L7 redirect')
  .option('-n, --namespace <namespace>', 'only this namespace')
  .option('--node <name>', "what that node's datapath really programmed into its BPF maps")
  .addHelpText('after', '\nExamples:\n  tendril services -n default\n  tendril services --node worker-1')
  .action(
    withSession((session, format, command) => {
      const options = command.opts<{ namespace?: string; node?: string }>();
      return options.node ? nodeServices(session, format, options.node) : services(session, format, options.namespace);
    }),
  );

const policy = program.command('policy').description('network policy as tendril-policy holds it');
policy
  .command('get')
  .argument('<pod>', 'namespace/name of a Pod')
  .description("a Pod's identity and the rules its ingress and egress follow")
  .addHelpText('after', '\nExamples:\n  tendril policy get shop/web-0\n  tendril policy get shop/web-0 -o json')
  .action(
    withSession((session, format, command) => policyGet(session, format, command.args[0]!)),
  );
policy
  .command('trace')
  .description('which rule allows or denies a connection, from the published policy (as cilium policy trace)')
  .requiredOption('--from <source>', 'namespace/name of a Pod, an address or a CIDR')
  .requiredOption('--to <destination>', 'namespace/name of a Pod, an address or a CIDR')
  .requiredOption('--port <n>', 'destination port')
  .option('--protocol <protocol>', 'TCP, UDP or SCTP', 'TCP')
  .addHelpText('after', '\nExamples:\n  tendril policy trace --from shop/client-0 --to shop/web-0 --port 8080\n  tendril policy trace --from shop/web-0 --to 198.51.100.0/24 --port 53 --protocol UDP')
  .action(
    withSession((session, format, command) => policyTrace(session, format, command.opts<{ from: string; to: string; port: string; protocol: string }>())),
  );

program
  .command('routes')
  .description('HTTP routes (Ingress, Gateway, CiliumEnvoyConfig, proxyless) down to clusters and endpoints')
  .addHelpText('after', '\nExample:\n  tendril routes -o yaml')
  .action(withSession((session, format) => routes(session, format)));

const historyCommand = program
  .command('history')
  .description("the translator's published generations: counts, what was added, changed, removed, errors")
  .option('--last <n>', 'how many generations', '20')
  .addHelpText('after', '\nExamples:\n  tendril history --last 5\n  tendril history diff 3 7')
  .action(withSession((session, format, command) => history(session, format, Number(command.opts<{ last: string }>().last))));
historyCommand
  .command('diff <a> <b>')
  .description('what changed between two generations')
  .action(withSession((session, format, command) => historyDiff(session, format, Number(command.args[0]), Number(command.args[1]))));

program
  .command('objects')
  .description('what the watcher holds, with each object status and errors')
  .option('--kind <kind>', 'only this kind (service, ingress, httproute, ...)')
  .addHelpText('after', '\nExample:\n  tendril objects --kind ingress')
  .action(withSession((session, format, command) => objects(session, format, command.opts<{ kind?: string }>().kind)));

program
  .command('observe')
  .description('L4 flows as the datapaths report them')
  .option('-f, --follow', 'keep printing until interrupted', false)
  .option('--seconds <n>', 'how long to listen without --follow', '5')
  .option('--last <n>', 'stop after this many flows')
  .addHelpText('after', '\nExample:\n  tendril observe --follow')
  .action(
    withSession((session, format, command) => {
      const options = command.opts<{ follow: boolean; seconds: string; last?: string }>();
      return observe(session, format, { follow: options.follow, seconds: Number(options.seconds), ...(options.last ? { max: Number(options.last) } : {}) });
    }),
  );

const envoy = program.command('envoy').description("the node proxy's Envoy");
envoy
  .command('bootstrap')
  .description("a node's Envoy bootstrap (as the DaemonSet uses it): ADS from the xds-server, access logs to metrics; YAML, or JSON with -o json")
  .requiredOption('--node <name>', 'the node id the proxy announces')
  .option('--xds <host:port>', "the xds-server's ADS port", '127.0.0.1:18000')
  .option('--als <host:port>', "the metrics service's access log port", '127.0.0.1:18001')
  .option('--admin-port <port>', "Envoy's admin port on 127.0.0.1", '9901')
  .addHelpText('after', '\nExamples:\n  tendril envoy bootstrap --node worker-1 > bootstrap.yaml && envoy -c bootstrap.yaml\n  tendril envoy bootstrap --node worker-1 --xds xds-server.tendril-system.svc:18000 -o json')
  .action((...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.optsWithGlobals<BootstrapCommandOptions & { output: string }>();
    envoyBootstrap(parseFormat(options.output), options);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof UsageError) {
    console.error(`tendril: ${error.message}`);
    process.exitCode = 2;
  } else if (error instanceof UnreachableError) {
    console.error(`tendril: ${error.message}`);
    process.exitCode = 3;
  } else if (error instanceof NotFoundError) {
    console.error(`tendril: ${error.message}`);
    process.exitCode = 1;
  } else {
    console.error(`tendril: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  }
}
