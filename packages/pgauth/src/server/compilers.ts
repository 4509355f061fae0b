/**
 * The compilers of the route schemas (Ajv for requests, fast-json-stringify for responses), each
 * schema compiled once a process. Fastify's own compile every schema of every route of every app:
 * the error bodies that most routes share were compiled again for each route (a gateway's start
 * spent about 0.2 s of CPU on its schemas), and each app built in the same process (the tests
 * build hundreds) compiled them all again. Here a compiled function is kept under its schema's
 * JSON, the shared schemas it may reference and the compiler options, and is handed to every
 * route and app that asks for the same. A JSON body is validated without Ajv's type coercion
 * (typedBodies), the query string and the path with it.
 *
 * That holds only while the key says everything the function depends on, so two things are
 * refused at start instead of being compiled wrongly:
 * - compiler options that JSON cannot show (Ajv plugins, `onCreate`, a RegExp format): one Ajv
 *   serves every app of the process, and such options would reach the apps that did not ask;
 * - header schemas: with compilers of its own, Fastify hands them over as written instead of
 *   lower-casing the names in them (properties, required, dependencies and the rest), so that an
 *   `Authorization` would never match the header it receives. No route of the gateway has one:
 *   a route reads its headers in its handler.
 *
 * The kept functions live as long as the process: one per distinct schema, a fixed set for a
 * gateway.
 */
import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';
import { type SerializerFactory, SerializerSelector } from '@fastify/fast-json-stringify-compiler';

/** What Fastify passes a compiler for one schema of one route (the parts read here). */
interface RouteSchema {
  schema: unknown;
  httpPart?: string;
  url?: string;
}

type Compile = (route: RouteSchema) => unknown;
type Factory = (externals: unknown, options: unknown) => Compile;

/** `value` as JSON, refusing what JSON would drop or flatten (functions, RegExps). */
function exactJson(value: unknown, what: string): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'function' || v instanceof RegExp) {
      throw new Error(`${what}: only JSON values are supported here (found ${String(v)})`);
    }
    return v;
  });
}

/**
 * `factory` with its compilers memoised by content; `kind` keeps validators and serializers
 * apart, and `adjust` gives the options a part of a route (its body, its query string) is
 * compiled with.
 */
function byContent(
  kind: string,
  factory: Factory,
  adjust: (route: RouteSchema, options: unknown) => unknown = (_route, options) => options,
): Factory {
  const compiled = new Map<string, unknown>();
  return (externals, options) => {
    return (route) => {
      if (route.httpPart === 'headers') {
        throw new Error(
          `${route.url ?? 'a route'}: header schemas are not supported (Fastify would not lower-case them here); check the header in the handler`,
        );
      }
      const adjusted = adjust(route, options);
      const context = `${kind} ${exactJson([externals, adjusted], `${kind} options`)} `;
      const key = context + exactJson(route.schema, `the schema of ${route.url ?? 'a route'}`);
      let fn = compiled.get(key);
      if (fn === undefined) {
        // The factories pool their compilers by options themselves (one Ajv for the same ones).
        fn = factory(externals, adjusted)(route);
        compiled.set(key, fn);
      }
      return fn;
    };
  };
}

/**
 * A JSON body is taken as typed: a number where the schema wants a string (a password of 123) is
 * a 400, not the string of the number. Ajv's coercion stays for the query string and the path,
 * which are text (`?limit=10`).
 */
function typedBodies(route: RouteSchema, options: unknown): unknown {
  if (route.httpPart !== 'body') return options;
  const o = (options ?? {}) as { customOptions?: object };
  return { ...o, customOptions: { ...o.customOptions, coerceTypes: false } };
}

/** The `schemaController` option of every Fastify app of the gateway. */
export const schemaController = {
  compilersFactory: {
    buildValidator: byContent(
      'validator',
      AjvCompiler() as Factory,
      typedBodies,
    ) as ValidatorFactory,
    buildSerializer: byContent('serializer', SerializerSelector() as Factory) as SerializerFactory,
  },
};
