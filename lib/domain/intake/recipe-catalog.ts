import { matchRecipe, RECIPES } from '../recipes.ts';
import type { CatalogMatch, ToolCatalog } from './engine.ts';

/** The offline recipe coder's catalog as the intake sees it: only tools it can really build. */
export const recipeCatalog: ToolCatalog = {
  buildsExtras: false,
  match(text: string): CatalogMatch | undefined {
    const hit = matchRecipe(text);
    if (!hit) return undefined;
    const recipe = RECIPES.find((r) => r.id === hit.id);
    if (!recipe) return undefined;
    return {
      id: recipe.id,
      title: recipe.title,
      description: recipe.description,
      features: [...recipe.features],
    };
  },
  entries(): CatalogMatch[] {
    return RECIPES.map((r) => ({
      id: r.id,
      title: r.title,
      description: r.description,
      features: [...r.features],
    }));
  },
  examples(): string[] {
    return RECIPES.map((r) => `a ${r.title.toLowerCase()}`);
  },
};
