// serverless-offline ships no types: the part of its Lambda runner this plugin uses (src/lambda/Lambda.js,
// LambdaFunction.js in serverless-offline 14).
declare module 'serverless-offline/lambda' {
  export interface LambdaFunctionInstance {
    setEvent(event: unknown): void;
    /** Rejects with the handler's error, or a LambdaTimeoutError ("[504] - Lambda timeout.") past `timeout`. */
    runHandler(): Promise<unknown>;
  }
  export default class Lambda {
    constructor(serverless: unknown, options: Record<string, unknown>);
    create(lambdas: { functionKey: string; functionDefinition: unknown }[]): void;
    get(functionKey: string): LambdaFunctionInstance;
    cleanup(): Promise<void>;
  }
}
