import { describeIntrospection } from '../../suites/introspection.suite.ts';

describeIntrospection('external');
