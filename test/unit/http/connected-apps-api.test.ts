import { describeConnectedAppsApi } from '../../suites/connected-apps.suite.ts';

describeConnectedAppsApi('memory');
