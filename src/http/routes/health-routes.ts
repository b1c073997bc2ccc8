import Router from '@koa/router';
import { UnavailableError } from '../../errors/index.ts';
import type { HealthService } from '../../services/health/health-service.ts';

export function healthRoutes(health: HealthService, storeMode: 'embedded' | 'external'): Router {
  const router = new Router();

  // Liveness: the process answers. Never touches a store, so an outage does not get us restarted.
  router.get('/health/alive', (ctx) => {
    ctx.body = { status: 'alive' };
  });

  // Readiness: 200 only when every store answers; 503 naming what is down, so a load balancer
  // sends no traffic to an instance that could not check a bearer.
  router.get('/health/ready', async (ctx) => {
    const readiness = await health.readiness();
    if (!readiness.ready) {
      const down = Object.entries(readiness.checks).filter(([, state]) => state === 'down').map(([name]) => name);
      throw new UnavailableError(`Not ready: ${down.join(', ')} unreachable`, 5);
    }
    ctx.body = { status: 'ready', stores: storeMode, checks: readiness.checks };
  });

  return router;
}
