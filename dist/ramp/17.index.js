export const id = 17;
export const ids = [17];
export const modules = {

/***/ 3398:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   CloudWatchProvider: () => (/* binding */ CloudWatchProvider),
/* harmony export */   INSTANT_LOOKBACK_MS: () => (/* binding */ INSTANT_LOOKBACK_MS),
/* harmony export */   cloudWatchPeriod: () => (/* binding */ cloudWatchPeriod),
/* harmony export */   metricDataQuery: () => (/* binding */ metricDataQuery)
/* harmony export */ });
/* harmony import */ var _aws_sdk_client_cloudwatch__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(4085);
/* harmony import */ var _clock_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(2257);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(4296);
/* harmony import */ var _provider_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(7296);




const SYSTEM = 'cloudwatch';
/** The window an instant query looks back over: CloudWatch's standard metrics arrive once a minute. */
const INSTANT_LOOKBACK_MS = 5 * 60_000;
/** Pages of GetMetricData followed before giving up; a bake window needs one or two. */
const MAX_PAGES = 20;
/** A CloudWatch period for a step: 1, 5, 10 or 30 seconds (high resolution), else whole minutes. */
function cloudWatchPeriod(stepMs) {
    const seconds = stepMs / 1000;
    if (seconds >= 60)
        return Math.max(60, Math.round(seconds / 60) * 60);
    return [1, 5, 10, 30].find((p) => p >= seconds) ?? 60;
}
/**
 * The check's query as a MetricDataQuery: JSON (a MetricDataQuery, or the shorthand
 * {Namespace, MetricName, Dimensions, Stat}) or else an expression (Metrics Insights SQL or
 * metric math).
 */
function metricDataQuery(query, period) {
    const text = query.trim();
    if (!text.startsWith('{'))
        return { Id: 'rollgate', Expression: text, Period: period, ReturnData: true };
    let parsed;
    try {
        parsed = JSON.parse(text);
    }
    catch (err) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, `the query looks like JSON but does not parse: ${(0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeError */ .Uc)(err)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, 'a JSON query must be an object');
    const o = parsed;
    if ('MetricStat' in o || 'Expression' in o) {
        const q = { ...o, Id: 'rollgate', ReturnData: true };
        if (q.MetricStat)
            q.MetricStat = { ...q.MetricStat, Period: q.MetricStat.Period ?? period };
        else
            q.Period = q.Period ?? period;
        return q;
    }
    if (typeof o.Namespace !== 'string' || typeof o.MetricName !== 'string')
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, 'a JSON query needs MetricStat, Expression, or Namespace and MetricName');
    return {
        Id: 'rollgate',
        ReturnData: true,
        MetricStat: {
            Metric: { Namespace: o.Namespace, MetricName: o.MetricName, Dimensions: Array.isArray(o.Dimensions) ? o.Dimensions : undefined },
            Stat: typeof o.Stat === 'string' ? o.Stat : 'Average',
            Period: typeof o.Period === 'number' ? o.Period : period,
            Unit: typeof o.Unit === 'string' ? o.Unit : undefined,
        },
    };
}
function shorten(query) {
    const flat = query.replace(/\s+/g, ' ').trim();
    return flat.length > 160 ? `${flat.slice(0, 160)}…` : flat;
}
/**
 * Amazon CloudWatch through the official client (GetMetricData, SigV4-signed). Credentials come
 * from the SDK's default chain: environment variables (as aws-actions/configure-aws-credentials
 * exports them after assuming an OIDC role), web identity token files, profiles.
 */
class CloudWatchProvider {
    config;
    clock;
    name = SYSTEM;
    client;
    constructor(config, clock = _clock_js__WEBPACK_IMPORTED_MODULE_0__/* .systemClock */ .m) {
        this.config = config;
        this.clock = clock;
        this.client = new _aws_sdk_client_cloudwatch__WEBPACK_IMPORTED_MODULE_2__/* .CloudWatchClient */ .WBn({
            region: config.region,
            endpoint: config.endpoint,
            maxAttempts: config.retries + 1,
            requestHandler: { requestTimeout: config.timeout, connectionTimeout: config.timeout },
        });
    }
    /** The newest datapoint in the few minutes up to `time` (default now). */
    async query(query, options = {}) {
        const end = options.time ?? this.clock.now();
        const range = await this.queryRange(query, { start: end - INSTANT_LOOKBACK_MS, end, stepMs: 60_000 }, options);
        switch (range.kind) {
            case 'no-data':
            case 'many-series':
                return range;
            case 'series': {
                return (0,_provider_js__WEBPACK_IMPORTED_MODULE_3__/* .outcomeOf */ .s)(range.points[range.points.length - 1].value);
            }
        }
    }
    /** Datapoints of `query` between start and end, one per period (the step rounded to a valid period). */
    async queryRange(query, range, options = {}) {
        const dataQuery = metricDataQuery(query, cloudWatchPeriod(range.stepMs));
        const series = new Map();
        let nextToken;
        for (let page = 0; page < MAX_PAGES; page++) {
            const command = new _aws_sdk_client_cloudwatch__WEBPACK_IMPORTED_MODULE_2__/* .GetMetricDataCommand */ .Soe({
                StartTime: new Date(range.start),
                EndTime: new Date(range.end),
                MetricDataQueries: [dataQuery],
                ScanBy: 'TimestampAscending',
                NextToken: nextToken,
            });
            let answer;
            try {
                answer = await this.client.send(command, { abortSignal: options.signal });
            }
            catch (err) {
                throw explain(err, query);
            }
            for (const result of answer.MetricDataResults ?? [])
                collect(series, result, query);
            nextToken = answer.NextToken;
            if (!nextToken)
                break;
        }
        if (series.size === 0)
            return { kind: 'no-data' };
        if (series.size > 1)
            return { kind: 'many-series', count: series.size };
        const points = [...series.values()][0].sort((a, b) => a.time - b.time);
        return points.length === 0 ? { kind: 'no-data' } : { kind: 'series', points };
    }
}
function collect(series, result, query) {
    const messages = (result.Messages ?? []).map((m) => `${m.Code ?? ''} ${m.Value ?? ''}`.trim()).join('; ');
    switch (result.StatusCode) {
        case 'Forbidden':
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, `not allowed to read this metric${messages ? `: ${messages}` : ''} (the role needs cloudwatch:GetMetricData) — query: ${shorten(query)}`);
        case 'InternalError':
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, `CloudWatch reported an internal error${messages ? `: ${messages}` : ''} — query: ${shorten(query)}`, true);
        case 'Complete':
        case 'PartialData':
        case undefined:
            break;
    }
    const key = result.Label ?? result.Id ?? '';
    const points = series.get(key) ?? [];
    const times = result.Timestamps ?? [];
    const values = result.Values ?? [];
    if (times.length !== values.length)
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, `answer has ${times.length} timestamps for ${values.length} values — query: ${shorten(query)}`);
    times.forEach((t, i) => points.push({ time: t.getTime(), value: values[i] }));
    // A result with no datapoints still names the series: it counts as that series, empty.
    series.set(key, points);
}
/** Turns the SDK's errors into messages a release engineer can act on. */
function explain(err, query) {
    if (err instanceof _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ)
        return err;
    const name = err instanceof Error ? err.name : '';
    const message = (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeError */ .Uc)(err);
    const status = err.$metadata?.httpStatusCode;
    if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message))
        return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, 'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or assume a role first (aws-actions/configure-aws-credentials with OIDC)');
    if (/^(InvalidClientTokenId|UnrecognizedClient(Exception)?|InvalidSignature(Exception)?|SignatureDoesNotMatch|ExpiredToken(Exception)?|AccessDenied(Exception)?|MissingAuthenticationToken)$/.test(name))
        return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, `credentials rejected (${name}): ${message}`);
    if (/^(Throttling(Exception)?|ThrottledException|RequestLimitExceeded|TooManyRequestsException|LimitExceeded(Exception)?)$/.test(name) || status === 429)
        return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, `rate limited (${name || 'HTTP 429'}): ${message}`, true);
    if (/^(InvalidParameter\w*|MissingParameter\w*|ValidationError|ValidationException)$/.test(name))
        return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, `query rejected (${name}): ${message} — query: ${shorten(query)}`);
    if (name === 'AbortError')
        return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, 'cancelled');
    const http = status ? ` (HTTP ${status})` : '';
    return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .ProviderError */ .mZ(SYSTEM, `GetMetricData failed${http}: ${name ? `${name}: ` : ''}${message}`, status === undefined || status >= 500);
}


/***/ })

};
