/** CDK entry point (`cdk.json`: `npx tsx infra/app.ts`). Pick the stage with `-c stage=dev|test|prod`. */
import { createApp } from '#infra/integration-app.ts';

createApp().app.synth();
