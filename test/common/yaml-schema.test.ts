import { describe, expect, it } from 'vitest';
import { createValidator, fieldName, type PathSegment, type Schema } from '../../common/yaml-schema.js';

function problems(schema: Schema, value: unknown): string[] {
  const found: string[] = [];
  createValidator(schema, { schemaName: 'test-schema.json' })(value, (path: PathSegment[], message: string) => found.push(`${fieldName(path)}: ${message}`));
  return found;
}

describe('the data-file validator', () => {
  it('counts only a mapping’s own keys as present, so a key named like an Object method is still missing', () => {
    const schema: Schema = { type: 'object', required: ['toString', 'name'], properties: { toString: { type: 'string' }, name: { type: 'string' } } };
    expect(problems(schema, { name: 'x' })).toEqual([expect.stringContaining('missing required field "toString"')]);
    expect(problems(schema, { name: 'x', toString: 'y' })).toEqual([]);
  });

  it('checks oneOf on a value that is not a mapping, naming the allowed forms', () => {
    const schema: Schema = { type: 'object', properties: { timeout: { oneOf: [{ type: 'integer', minimum: 1 }, { enum: ['none'] }] } } };
    expect(problems(schema, { timeout: 5 })).toEqual([]);
    expect(problems(schema, { timeout: 'none' })).toEqual([]);
    const [problem, ...more] = problems(schema, { timeout: 'soon' });
    expect(more).toEqual([]);
    expect(problem).toMatch(/^timeout: "soon" is none of the allowed forms: integer \| "none"$/);
  });

  it('still tells mapping branches apart by their required fields', () => {
    const schema: Schema = {
      type: 'object',
      properties: { at: { type: 'object', properties: { testId: { type: 'string' }, text: { type: 'string' } }, oneOf: [{ required: ['testId'] }, { required: ['text'] }] } },
    };
    expect(problems(schema, { at: {} })).toEqual(['at: needs one of: testId, text']);
    expect(problems(schema, { at: { testId: 'a', text: 'b' } })).toEqual(['at: give only one of: testId, text']);
  });

  it('refuses a schema that asks for a check nobody makes (a keyword Ajv does not know)', () => {
    expect(() => problems({ type: 'object', properties: { a: { type: 'string', maxLenght: 3 } } } as Schema, {})).toThrow(/^test-schema\.json: strict mode: unknown keyword: "maxLenght"/);
  });

  it('reports each problem once, in the order of the document, with the wrong type alone', () => {
    const schema: Schema = {
      type: 'object',
      additionalProperties: false,
      required: ['id'],
      properties: { id: { type: 'string', pattern: '^[a-z]+$' }, list: { type: 'array', uniqueItems: true, items: { enum: ['a', 'b'] } }, n: { type: 'integer', minimum: 1, enum: [1, 2] } },
    };
    expect(problems(schema, { list: ['a', 'c', 'a'], n: 'x', idd: 1 })).toEqual([
      'idd: unknown field "idd"',
      '(root): missing required field "id"',
      'list[2]: "a" is listed twice',
      'list[1]: "c" is not one of a, b',
      'n: must be an integer, not a string',
    ]);
  });
});
