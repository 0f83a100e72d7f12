import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// The import direction of design.md, enforced: the card never reaches into the harness,
// and the portal trusts certificates, never the card.
const restrict = (patterns) => ({
  'no-restricted-imports': ['error', { patterns: patterns.map((group) => ({ group: [group], message: 'design.md: imports run one way' })) }],
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'out/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  { files: ['common/**/*.ts', 'iso7816/**/*.ts'], rules: restrict(['**/emulator/**', '**/harness/**', '**/reports/**', '**/scenarios/**']) },
  { files: ['emulator/**/*.ts'], rules: restrict(['**/harness/**', '**/reports/**', '**/scenarios/**']) },
  { files: ['harness/portal/**/*.ts'], rules: restrict(['**/emulator/**']) },
  { files: ['reports/**/*.ts'], rules: restrict(['**/emulator/**', '**/harness/readers/**', '**/harness/portal/**']) },
);
