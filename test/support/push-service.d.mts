/** See push-service.mjs: a Web Push service for the tests, in Node. */
export function pushService(request: Request): Promise<Response | null>;
