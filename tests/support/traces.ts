import type { OtlpTraceData } from '../../infra/runner/trace.ts';

/**
 * The gateway that handled each span of a trace, from the `collector.gateway` attribute the
 * gateway profile sets ('none' for a span no gateway marked).
 */
export function gatewaysOf(data: OtlpTraceData): string[] {
  return (data.resourceSpans ?? []).flatMap((resource) =>
    (resource.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map(
        (span) => span.attributes?.find((a) => a.key === 'collector.gateway')?.value.stringValue ?? 'none',
      ),
    ),
  );
}
