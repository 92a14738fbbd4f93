// One flat config for the whole workspace; each project runs `eslint .` from its own folder.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Libraries whose import is allowed in exactly one project (ARCHITECTURE.md). */
const owned = {
  'onnxruntime-node': 'libs/runtime',
  '@prisma/client': 'libs/store',
  '@prisma/adapter-better-sqlite3': 'libs/store',
  'better-sqlite3': 'libs/store',
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/generated/**',
      '**/dist/**',
      '**/.cache/**',
      '**/var/**',
      '**/.venv/**',
      '**/.nx/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-restricted-imports': [
        'error',
        {
          paths: Object.entries(owned).map(([name, owner]) => ({
            name,
            message: `only ${owner} may import ${name}`,
          })),
        },
      ],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            { sourceTag: 'layer:proto', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'layer:core', onlyDependOnLibsWithTags: ['layer:core'] },
            { sourceTag: 'kind:pure', onlyDependOnLibsWithTags: ['kind:pure', 'layer:core', 'layer:model'] },
            { sourceTag: 'layer:model', onlyDependOnLibsWithTags: ['layer:core', 'layer:proto'] },
            {
              sourceTag: 'layer:adapter',
              onlyDependOnLibsWithTags: [
                'layer:core',
                'layer:model',
                'layer:proto',
                'kind:pure',
                'layer:adapter',
              ],
            },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'type:test', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
    },
  },
  {
    // Tests of pure libraries check their numerics against the real runtime (never the reverse).
    files: ['**/*.spec.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { allow: [], depConstraints: [{ sourceTag: '*', onlyDependOnLibsWithTags: ['*'] }] },
      ],
    },
  },
  ...Object.values(owned)
    .filter((owner, i, all) => all.indexOf(owner) === i)
    .map((owner) => ({ files: [`${owner}/**/*.ts`], rules: { 'no-restricted-imports': 'off' } })),
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        global: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
  prettier,
);
