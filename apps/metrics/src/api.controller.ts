/**
 * The HTTP API: recent flows (`hubble observe`: a query, or `follow=true` for a stream of NDJSON), the
 * live service map as JSON and as a page, and the sync status of every proxy.
 */
import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { FlowQueryError, parseFlowQuery } from '@tendril/traffic';
import { FlowsService } from './flows.service.js';
import { ProxiesService } from './proxies.service.js';
import { TrafficService } from './traffic.service.js';
import { cytoscapeScript, serviceMapPage } from './service-map-page.js';

@Controller()
export class ApiController {
  constructor(
    @Inject(FlowsService) private readonly flows: FlowsService,
    @Inject(TrafficService) private readonly traffic: TrafficService,
    @Inject(ProxiesService) private readonly proxies: ProxiesService,
  ) {}

  @Get('api/flows')
  async flowList(@Query() params: Record<string, unknown>, @Req() request: Request, @Res() response: Response): Promise<void> {
    let query;
    try {
      query = parseFlowQuery(params);
    } catch (error) {
      if (!(error instanceof FlowQueryError)) throw error;
      response.status(400).json({ error: error.message });
      return;
    }
    const past = await this.flows.query(query);
    if (params['follow'] !== 'true') {
      response.json({ flows: past });
      return;
    }
    response.status(200).setHeader('Content-Type', 'application/x-ndjson');
    response.setHeader('Cache-Control', 'no-store');
    for (const flow of past) response.write(`${JSON.stringify(flow)}\n`);
    response.flushHeaders();
    const stop = this.flows.follow(query, (flow) => response.write(`${JSON.stringify(flow)}\n`));
    request.on('close', stop);
  }

  @Get('api/service-map')
  serviceMap(): unknown {
    return this.traffic.serviceMap();
  }

  @Get('api/proxies')
  proxyList(): unknown {
    return { proxies: this.proxies.statuses() };
  }

  @Get()
  page(@Res() response: Response): void {
    response.type('html').send(serviceMapPage);
  }

  @Get('assets/cytoscape.min.js')
  script(@Res() response: Response): void {
    response.type('application/javascript').setHeader('Cache-Control', 'max-age=3600');
    response.send(cytoscapeScript());
  }
}
