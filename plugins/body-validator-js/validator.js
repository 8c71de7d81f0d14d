// body-validator-js: a request-body validator for Portico, in JavaScript.
//
// Requests whose method is listed (POST, PUT and PATCH by default) must
// carry an allowed content type (415 otherwise), a body of at most
// `max_body_bytes` (413), and that body must be a JSON object with every
// required field present and of its type (400). Refusals are
// `application/problem+json`, shaped like the gateway's own and the Rust
// SDK's `Reply::problem`. A body that passes is forwarded unchanged.
//
// Built with ComponentizeJS against wit/body-validator.wit (Portico's
// `plugin` world narrowed to no capability); see README.md.

const NAME = 'body-validator-js';
const VERSION = '0.1.0';

const KEYS = ['required', 'max_body_bytes', 'content_types', 'methods'];
const TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null', 'any'];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MEDIA = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

/** Thrown by `init`: becomes the `config-error` the gateway reports. */
class ConfigError extends Error {
  constructor(key, message) {
    super(`${key}: ${message}`);
    this.payload = { key, message };
  }
}

/** The checked config (set by `init`). */
let config = {
  required: [],
  maxBodyBytes: 65536,
  contentTypes: ['application/json'],
  methods: ['POST', 'PUT', 'PATCH'],
};

/** A field name or JSON pointer (RFC 6901) as the list of tokens it names. */
function pointerTokens(field) {
  if (!field.startsWith('/')) {
    return [field];
  }
  return field
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parseConfig(text) {
  let table;
  try {
    table = text.trim() === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw new ConfigError('', `not JSON: ${error.message}`);
  }
  if (!isPlainObject(table)) {
    throw new ConfigError('', 'expected a table');
  }
  for (const key of Object.keys(table)) {
    if (!KEYS.includes(key)) {
      throw new ConfigError(key, `unknown key, expected one of ${KEYS.join(', ')}`);
    }
  }
  const parsed = { ...config, required: [] };
  if ('required' in table) {
    if (!isPlainObject(table.required)) {
      throw new ConfigError('required', 'expected a table of field = type');
    }
    for (const [field, type] of Object.entries(table.required)) {
      const key = `required."${field}"`;
      if (field === '' || field === '/') {
        throw new ConfigError(key, 'expected a member name or a JSON pointer');
      }
      if (!TYPES.includes(type)) {
        throw new ConfigError(key, `expected one of ${TYPES.join(', ')}`);
      }
      parsed.required.push({ field, tokens: pointerTokens(field), type });
    }
  }
  if ('max_body_bytes' in table) {
    const max = table.max_body_bytes;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new ConfigError('max_body_bytes', 'expected a positive integer');
    }
    parsed.maxBodyBytes = max;
  }
  if ('content_types' in table) {
    const types = table.content_types;
    if (!Array.isArray(types) || types.length === 0) {
      throw new ConfigError('content_types', 'expected a non-empty list of media types');
    }
    types.forEach((type, i) => {
      if (typeof type !== 'string' || !(MEDIA.test(type.toLowerCase()) || type === '*/*+json')) {
        throw new ConfigError(`content_types[${i}]`, 'expected a media type such as `application/json` (or `*/*+json`)');
      }
    });
    parsed.contentTypes = types.map((t) => t.toLowerCase());
  }
  if ('methods' in table) {
    const methods = table.methods;
    if (!Array.isArray(methods) || methods.length === 0) {
      throw new ConfigError('methods', 'expected a non-empty list of methods');
    }
    methods.forEach((method, i) => {
      if (typeof method !== 'string' || !TOKEN.test(method)) {
        throw new ConfigError(`methods[${i}]`, 'expected an HTTP method');
      }
    });
    parsed.methods = methods.map((m) => m.toUpperCase());
  }
  return parsed;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A problem+json reply, the same shape as the SDK's `Reply::problem`. */
function problem(status, kind, title, detail) {
  const body = JSON.stringify({
    type: `urn:portico:problem:${kind}`,
    title,
    status,
    detail,
    source: 'plugin',
    retryable: false,
    plugin: NAME,
  });
  return {
    tag: 'respond',
    val: {
      status,
      headers: [
        ['content-type', 'application/problem+json'],
        ['cache-control', 'no-store'],
      ],
      body: encoder.encode(body),
    },
  };
}

/** The media type of a `content-type` value, lower-case, without parameters. */
function mediaType(value) {
  return value.split(';')[0].trim().toLowerCase();
}

function allowedType(media) {
  return config.contentTypes.some(
    (allowed) => allowed === media || (allowed === '*/*+json' && /^[^/]+\/[^/]+\+json$/.test(media)),
  );
}

function typeOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matches(value, type) {
  const actual = typeOf(value);
  return type === 'any' || actual === type || (type === 'number' && actual === 'integer');
}

/** The member a field's tokens name, or `undefined`. */
function lookup(document, tokens) {
  let node = document;
  for (const token of tokens) {
    if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(token)) {
      node = node[Number(token)];
    } else if (isPlainObject(node) && Object.prototype.hasOwnProperty.call(node, token)) {
      node = node[token];
    } else {
      return undefined;
    }
  }
  return node;
}

function tooLarge(size) {
  return problem(
    413,
    'payload-too-large',
    'Payload too large',
    `the request body is ${size} bytes; this route accepts at most ${config.maxBodyBytes}`,
  );
}

function validate(req) {
  if (!config.methods.includes(req.method())) {
    return { tag: 'continue' };
  }
  const contentType = req.header('content-type');
  const media = contentType === undefined ? undefined : mediaType(contentType);
  if (media === undefined || !allowedType(media)) {
    return problem(
      415,
      'unsupported-media-type',
      'Unsupported media type',
      `${media === undefined ? 'no content-type' : `content-type \`${media}\``}; expected ${config.contentTypes.join(' or ')}`,
    );
  }
  // Refuse a declared oversize body before reading a byte of it.
  const declared = req.header('content-length');
  if (declared !== undefined && /^[0-9]+$/.test(declared.trim()) && Number(declared.trim()) > config.maxBodyBytes) {
    return tooLarge(declared.trim());
  }
  let bytes;
  try {
    bytes = req.body();
  } catch (error) {
    const cause = error && error.payload;
    if (cause && cause.tag === 'too-large') {
      // The gateway answers 413 itself (the route's max_body_bytes).
      return tooLarge(String(cause.val));
    }
    throw { payload: { message: `reading the body: ${cause ? cause.val : error}` } };
  }
  if (bytes.length > config.maxBodyBytes) {
    return tooLarge(bytes.length);
  }
  let document;
  try {
    document = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    return problem(400, 'invalid-json-body', 'Invalid JSON body', `the request body is not valid JSON: ${error.message}`);
  }
  if (!isPlainObject(document)) {
    return problem(400, 'invalid-json-body', 'Invalid JSON body', `the request body is a JSON ${typeOf(document)}; expected an object`);
  }
  for (const { field, tokens, type } of config.required) {
    const value = lookup(document, tokens);
    if (value === undefined) {
      return problem(400, 'invalid-request-body', 'Invalid request body', `\`${field}\` is required (${type})`);
    }
    if (!matches(value, type)) {
      return problem(
        400,
        'invalid-request-body',
        'Invalid request body',
        `\`${field}\` must be ${type === 'integer' || type === 'array' || type === 'object' ? 'an' : 'a'} ${type}, not ${typeOf(value)}`,
      );
    }
  }
  // The body was only read: the gateway forwards the buffer unchanged.
  return { tag: 'continue' };
}

/** The exported `portico:plugin/handler` interface. */
export const handler = {
  metadata() {
    return { name: NAME, version: VERSION };
  },

  init(text) {
    config = parseConfig(text);
  },

  onRequest(req) {
    return validate(req);
  },

  onResponse(_resp) {
    return { tag: 'continue' };
  },
};
