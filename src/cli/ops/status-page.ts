/** The status page (placeholder until the live page lands). */
export const STATUS_PAGE_HTML = '<!doctype html><title>dmsg relay</title><p>see /metrics and /stats.json</p>';
