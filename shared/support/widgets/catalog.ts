/**
 * The dashboard's support widgets: their Lambda entry, title and the support routes whose reads and
 * actions each performs (its IAM is the union of those routes' rows in infra/grants.ts). Pure data.
 */
import type { SupportRouteId } from '#shared/flows/registry.ts';

export interface SupportWidgetDefinition {
  /** Handler module, repository-relative. */
  readonly handler: string;
  readonly title: string;
  /** The support routes whose grants the widget needs: it calls the same library functions. */
  readonly routes: readonly SupportRouteId[];
}

export const SUPPORT_WIDGETS = {
  findMessage: {
    handler: 'functions/supportWidgets/findMessage.ts',
    title: 'Find a message',
    routes: ['search', 'syncRequest'],
  },
  deadLetters: {
    handler: 'functions/supportWidgets/deadLetters.ts',
    title: 'Dead letters (last 24 h)',
    routes: ['search', 'resubmit', 'resubmitSyncRequest'],
  },
} as const satisfies Record<string, SupportWidgetDefinition>;

export type SupportWidgetId = keyof typeof SUPPORT_WIDGETS;
export const SUPPORT_WIDGET_IDS = Object.keys(SUPPORT_WIDGETS) as SupportWidgetId[];
