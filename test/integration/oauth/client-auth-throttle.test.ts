import { describeClientAuthThrottle } from '../../suites/client-auth-throttle.suite.ts';

describeClientAuthThrottle('external');
