import { describeConsole } from '../../../suites/console.suite.ts';

describeConsole('external');
