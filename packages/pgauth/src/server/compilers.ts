/**
 * The compilers of the route schemas (Ajv for requests, fast-json-stringify for responses), each
 * schema compiled once a process. Fastify's own compile every schema of every route of every app:
 * the error bodies that most routes share were compiled again for each route (a gateway's start
 * spent about 0.2 s of CPU on its schemas), and each app built in the same process (the tests
 * build hundreds) compiled them all again. Here a compiled function is kept under its schema's
 * JSON, the shared schemas it may reference and the compiler options, and is handed to every
 * route and app that asks for the same: a validator or serializer is a pure function of those.
 */
import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';
import { type SerializerFactory, SerializerSelector } from '@fastify/fast-json-stringify-compiler';

/** What Fastify passes a compiler for one schema of one route (the parts used here). */
interface RouteSchema {
  schema: unknown;
  httpPart?: string;
}

type Compile = (route: RouteSchema) => unknown;
type Factory = (externals: unknown, options: unknown) => Compile;

/** `factory` with its compilers memoised by content; `kind` keeps validators and serializers
 * apart. */
function byContent(kind: string, factory: Factory): Factory {
  const compiled = new Map<string, unknown>();
  return (externals, options) => {
    const compile = factory(externals, options);
    const context = `${kind} ${JSON.stringify([externals, options])} `;
    return (route) => {
      if (route.httpPart === 'headers') upperCaseHeaders(route.schema);
      const key = context + JSON.stringify(route.schema);
      let fn = compiled.get(key);
      if (fn === undefined) {
        fn = compile(route);
        compiled.set(key, fn);
      }
      return fn;
    };
  };
}

/**
 * With a compilers factory of its own, Fastify hands header schemas over as written instead of
 * lower-casing their property names, so that `Authorization` would never match the lower-case
 * header it receives: refused here, at start, rather than left to fail on every request.
 */
function upperCaseHeaders(schema: unknown): void {
  const properties = (schema as { properties?: Record<string, unknown> } | null)?.properties;
  const named = Object.keys(properties ?? {}).filter((name) => name !== name.toLowerCase());
  if (named.length) {
    throw new Error(`header schema properties must be lower case: ${named.join(', ')}`);
  }
}

/** The `schemaController` option of every Fastify app of the gateway. */
export const schemaController = {
  compilersFactory: {
    buildValidator: byContent('validator', AjvCompiler() as Factory) as ValidatorFactory,
    buildSerializer: byContent('serializer', SerializerSelector() as Factory) as SerializerFactory,
  },
};
