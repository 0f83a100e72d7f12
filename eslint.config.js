import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// The import rules (docs/architecture.md) are checked by dependency-cruiser (.dependency-cruiser.cjs),
// which `npm run lint` runs after eslint.

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
  // The portals' page scripts run in the browser, not in Node (tsconfig.browser.json).
  { files: ['harness/portal/*/browser/**/*.ts'], languageOptions: { globals: { ...globals.browser } } },
);
