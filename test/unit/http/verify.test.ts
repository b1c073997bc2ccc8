import { describeVerify } from '../../suites/verify.suite.ts';

describeVerify('memory');
