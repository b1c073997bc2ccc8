import { describeApiKeysApi } from '../../suites/api-keys.suite.ts';

describeApiKeysApi('memory');
