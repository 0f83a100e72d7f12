/**
 * The public surface as the declarations give it: every export of the three package entries, and
 * every type it reaches that the package declares (not Node's, not Playwright's), walked through
 * properties, call signatures, parameters, return types and type arguments with the TypeScript
 * checker, holds no `any`.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { kPackageRoot } from '../support/cards.js';

const kEntries = ['index', 'playwright', 'steps'].map((e) => join(kPackageRoot, 'dist', 'harness', 'library', `${e}.d.ts`));
const kOwn = join(kPackageRoot, 'dist') + '/';

/** Where `any` shows in what `entry` exports: "export → path" lines. */
function anyIn(program: ts.Program, entry: string): string[] {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (!source) throw new Error(`${entry} is not in the program: build first (npm run build)`);
  const found: string[] = [];
  const seen = new Set<ts.Type>();
  const ours = (type: ts.Type): boolean => {
    const declarations = (type.aliasSymbol ?? type.getSymbol())?.getDeclarations() ?? [];
    return declarations.length === 0 || declarations.some((d) => d.getSourceFile().fileName.startsWith(kOwn));
  };
  const visit = (type: ts.Type, path: string, depth: number): void => {
    if (type.flags & ts.TypeFlags.Any) {
      found.push(path);
      return;
    }
    // A generic is checked where it is instantiated, not through its constraint's members.
    if (seen.has(type) || depth > 8 || type.flags & (ts.TypeFlags.TypeParameter | ts.TypeFlags.IndexedAccess | ts.TypeFlags.Conditional | ts.TypeFlags.Substitution)) return;
    seen.add(type);
    // An array or tuple is the language's: only what it holds can be ours.
    if (checker.isArrayType(type) || checker.isTupleType(type)) {
      for (const element of checker.getTypeArguments(type as ts.TypeReference)) visit(element, `${path}[]`, depth + 1);
      return;
    }
    if (!ours(type)) return;
    if (type.isUnionOrIntersection()) type.types.forEach((t, i) => visit(t, `${path}|${i}`, depth + 1));
    for (const argument of checker.getTypeArguments(type as ts.TypeReference) ?? []) visit(argument, `${path}<>`, depth + 1);
    for (const property of type.getProperties()) {
      const declaration = property.valueDeclaration ?? property.declarations?.[0];
      // A private member is declared without its type (`private _x;`): not something a user can touch.
      if (declaration && ts.getCombinedModifierFlags(declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
      if (declaration) visit(checker.getTypeOfSymbolAtLocation(property, declaration), `${path}.${property.name}`, depth + 1);
    }
    for (const signature of [...type.getCallSignatures(), ...type.getConstructSignatures()]) {
      for (const parameter of signature.getParameters()) {
        const declaration = parameter.valueDeclaration ?? parameter.declarations?.[0];
        if (declaration) visit(checker.getTypeOfSymbolAtLocation(parameter, declaration), `${path}(${parameter.name})`, depth + 1);
      }
      visit(signature.getReturnType(), `${path}()`, depth + 1);
    }
  };
  const module = checker.getSymbolAtLocation(source)!;
  for (const exported of checker.getExportsOfModule(module)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
    if (!declaration) continue;
    const type = symbol.flags & (ts.SymbolFlags.Type | ts.SymbolFlags.Interface) && !(symbol.flags & ts.SymbolFlags.Value) ? checker.getDeclaredTypeOfSymbol(symbol) : checker.getTypeOfSymbolAtLocation(symbol, declaration);
    visit(type, exported.name, 0);
    if (symbol.flags & ts.SymbolFlags.Class) visit(checker.getDeclaredTypeOfSymbol(symbol), `${exported.name}#`, 0);
  }
  return found;
}

describe('the public types', () => {
  const program = ts.createProgram(kEntries, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, types: ['node'] });

  it('declare every entry without errors', () => {
    const problems = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName.startsWith(kOwn)).map((d) => `${d.file!.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
    expect(problems).toEqual([]);
  });

  it.each(kEntries)('%s exports no `any`', (entry) => {
    expect(anyIn(program, entry)).toEqual([]);
  });

  it('finds an `any` where there is one (the check itself)', () => {
    const probe = join(kPackageRoot, 'dist', 'harness', 'portal', 'shared', 'errors.d.ts');
    const withProbe = ts.createProgram([probe], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, types: ['node'] });
    expect(anyIn(withProbe, probe).length).toBeGreaterThan(0);
  });
});
