import { recipeChecks } from '../recipe-checks.ts';
import { matchRecipe, RECIPES, type Recipe } from '../recipes.ts';
import type { CatalogMatch, ToolCatalog } from './engine.ts';

/** The offline recipe coder's catalog as the intake sees it: only tools it can really build. */
export const recipeCatalog: ToolCatalog = {
  buildsExtras: false,
  match(text: string): CatalogMatch | undefined {
    const hit = matchRecipe(text);
    if (!hit) return undefined;
    const recipe = RECIPES.find((r) => r.id === hit.id);
    if (!recipe) return undefined;
    return toMatch(recipe);
  },
  entries(): CatalogMatch[] {
    return RECIPES.map(toMatch);
  },
  examples(): string[] {
    return RECIPES.map((r) => `a ${r.title.toLowerCase()}`);
  },
};

function toMatch(recipe: Recipe): CatalogMatch {
  return {
    id: recipe.id,
    title: recipe.title,
    description: recipe.description,
    features: [...recipe.features],
    checks: recipeChecks(recipe.id),
  };
}
