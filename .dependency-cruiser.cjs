/**
 * The import rules of docs/architecture.md, enforced on the whole source tree (tests and scripts
 * excluded). Every wing lists the wings it may import; anything else is an error, and so is any
 * cycle. `npm run lint` runs this; test/project/import-rules.test.ts proves each rule fires.
 */

// The wings: a top-level folder, or a folder of harness/. A wing may always import itself, npm
// packages and Node's own modules.
const kWings = [
  'iso7816', 'common', 'emulator', 'reports',
  'harness/agents', 'harness/bench', 'harness/browser', 'harness/calibration', 'harness/certification',
  'harness/cli', 'harness/cms', 'harness/fixtures', 'harness/fuzz', 'harness/jpki', 'harness/library',
  'harness/portal', 'harness/profiles', 'harness/readers', 'harness/runner', 'harness/stats',
  'harness/package-root.ts',
];

// The card's public entry point, the only file of emulator/ that other wings may import.
const kEmulator = 'emulator/index.ts';
const kLeaves = ['iso7816', 'common'];

/** What each wing may import besides itself. */
const kAllowed = {
  iso7816: [],
  'harness/package-root.ts': [],
  common: ['iso7816'],
  emulator: kLeaves,
  'harness/stats': kLeaves,
  'harness/cms': kLeaves,
  'harness/jpki': kLeaves,
  'harness/browser': kLeaves,
  'harness/profiles': [...kLeaves, 'harness/package-root.ts'],
  'harness/readers': [...kLeaves, kEmulator, 'harness/package-root.ts', 'harness/stats', 'harness/profiles'],
  'harness/agents': [...kLeaves, 'harness/readers', 'harness/jpki', 'harness/cms'],
  'harness/portal': [...kLeaves, 'harness/package-root.ts', 'harness/cms'],
  'harness/fixtures': [...kLeaves, kEmulator, 'harness/package-root.ts', 'harness/readers', 'harness/jpki', 'harness/agents', 'harness/portal', 'harness/browser', 'harness/profiles', 'harness/stats'],
  'harness/runner': [...kLeaves, 'harness/package-root.ts', 'harness/fixtures', 'harness/readers', 'harness/jpki', 'harness/agents', 'harness/portal', 'harness/browser', 'harness/profiles', 'harness/stats', 'harness/cms'],
  reports: [...kLeaves, 'harness/runner/results.ts', 'harness/runner/reporter-api.ts'],
  'harness/certification': [...kLeaves, 'harness/package-root.ts', 'harness/fixtures', 'harness/runner', 'harness/profiles', 'harness/cms', 'reports'],
  'harness/calibration': [...kLeaves, kEmulator, 'harness/readers', 'harness/jpki'],
  'harness/fuzz': [...kLeaves, kEmulator, 'harness/readers', 'harness/jpki', 'harness/stats'],
  'harness/bench': [...kLeaves, kEmulator, 'harness/package-root.ts', 'harness/fixtures', 'harness/readers', 'harness/jpki', 'harness/agents', 'harness/portal', 'harness/cms', 'harness/stats'],
  'harness/library': [...kLeaves, kEmulator, 'harness/package-root.ts', 'harness/fixtures', 'harness/readers', 'harness/jpki', 'harness/agents', 'harness/portal', 'harness/runner', 'harness/profiles', 'harness/stats', 'reports'],
  'harness/cli': [...kLeaves, kEmulator, 'harness/package-root.ts', ...kWings.filter((w) => w.startsWith('harness/') && w !== 'harness/cli'), 'reports'],
};

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
// A folder wing matches the files under it; a file target (…/x.ts) matches that file only.
const pathOf = (target) => (target.endsWith('.ts') ? `^${escape(target)}$` : `^${escape(target)}/`);

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'An import cycle: split the shared part into a module both import.', from: {}, to: { circular: true } },
    {
      name: 'emulator-public-entry',
      severity: 'error',
      comment: 'Outside emulator/, the card is reached only through emulator/index.ts.',
      from: { pathNot: '^emulator/' },
      to: { path: '^emulator/', pathNot: `^${escape(kEmulator)}$` },
    },
    {
      name: 'portals-apart',
      severity: 'error',
      comment: 'A portal imports only itself, harness/portal/shared/ and harness/portal/verification/; what two portals share goes to shared/.',
      from: { path: '^harness/portal/([^/]+)/', pathNot: '^harness/portal/(shared|verification)/' },
      to: { path: '^harness/portal/', pathNot: '^harness/portal/($1|shared|verification)/' },
    },
    {
      name: 'portal-shared-parts-below-the-portals',
      severity: 'error',
      comment: 'harness/portal/shared/ and verification/ serve every portal, so they import none of them.',
      from: { path: '^harness/portal/(shared|verification)/' },
      to: { path: '^harness/portal/', pathNot: '^harness/portal/(shared|verification)/' },
    },
    {
      name: 'page-scripts-in-the-page',
      severity: 'error',
      comment: 'A portal page script (harness/portal/*/browser/) runs in the browser: it may import only its own folder.',
      from: { path: '^harness/portal/([^/]+)/browser/' },
      to: { pathNot: '^harness/portal/$1/browser/' },
    },
    {
      name: 'decoder-apart-from-encoder',
      severity: 'error',
      comment: 'common/card-info-format.ts decodes card-info as clients do; the emulator that encodes it may not use it.',
      from: { path: '^emulator/' },
      to: { path: '^common/card-info-format\\.ts$' },
    },
    ...kWings.map((wing) => ({
      name: `wing:${wing}`,
      severity: 'error',
      comment: `${wing} may import only: ${[wing, ...kAllowed[wing]].join(', ')}`,
      from: { path: pathOf(wing) },
      to: {
        dependencyTypesNot: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'],
        pathNot: [wing, ...kAllowed[wing]].map(pathOf),
      },
    })),
    {
      name: 'no-unknown-wing',
      severity: 'error',
      comment: 'A source folder that the import rules do not know: add it to kWings and kAllowed in .dependency-cruiser.cjs.',
      from: { path: '^(harness/[^/]+/|[^/]+/)', pathNot: [...kWings.map(pathOf), '^(test|scripts|scenarios|bin|dist|node_modules)/'] },
      to: {},
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    // Packages' subpath exports (tsx/esm/api, ajv/dist/2020.js) resolve as Node resolves them.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['jpki-hil-sources', 'import', 'require', 'node', 'types', 'default'] },
    exclude: { path: '^(node_modules|dist|out|test|scripts)/' },
  },
};
