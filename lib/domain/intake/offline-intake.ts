import { checksFor } from '../acceptance.ts';
import { type ArtifactType, type BuildSpec, BuildSpecSchema, DEFAULT_PLATFORMS } from '../build-spec.ts';
import type { BuildRun, IntakeState } from '../run.ts';
import { classifyQuestion, plainQuestion } from './answers.ts';
import { readChange } from './changes.ts';
import { detectArtifactType, detectExtras, detectName, detectPlatforms, detectRefusal } from './detect.ts';
import type { CatalogMatch, IntakeEngine, IntakeOutcome, RespondOptions, ToolCatalog } from './engine.ts';
import {
  ARTIFACT_TYPE_QUESTION,
  capitalise,
  joinRequest,
  MAX_QUESTIONS,
  OUT_OF_SCOPE,
  refusalReply,
  scopeReply,
  TYPE_LABEL,
} from './scope.ts';

export { ARTIFACT_TYPE_QUESTION, OUT_OF_SCOPE } from './scope.ts';

const AFFIRMATION =
  /^\s*(ok(ay)?|yes|yep|sure|great|perfect|good|fine|thanks|thank you|looks (good|great|fine)|sounds (good|great)|that'?s (it|all|fine|good)|lgtm|go ahead|approve[d]?)\b[\s!.]*$/i;

/**
 * The offline intake: deterministic, no model. It gathers the request, asks at most two short
 * clarifying questions (what the tool does, when nothing in the catalog matches; whether it is a
 * web app or a program), then writes a validated BuildSpec for the quote. Once quoted, it reads
 * change requests (type, platforms, name, another catalog tool, extra behaviour) and re-quotes;
 * anything else keeps the current quote. After delivery, a question about the tool is classified
 * into a topic by keyword rules (`answers.ts`) and answered with that topic's fixed sentence.
 */
export class OfflineIntake implements IntakeEngine {
  constructor(private readonly catalog: ToolCatalog) {}

  async respond(run: BuildRun, text: string, opts: RespondOptions = {}): Promise<IntakeOutcome> {
    const refusal = detectRefusal(text);
    if (refusal)
      return { kind: 'reply', reply: refusalReply(refusal, run.phase === 'quoted'), intake: run.intake };
    if (opts.revision && run.spec) return this.change(run, run.spec, text, true);
    if (run.phase === 'quoted' && run.spec) return this.change(run, run.spec, text);

    const requestText = joinRequest(run.intake.requestText, text);
    const asked = run.intake.questionsAsked;
    const match = this.catalog.match(requestText);
    if (!match) {
      const examples = this.catalog.examples().slice(0, 6).join(', ');
      const intake: IntakeState = { requestText, questionsAsked: asked + 1, pendingQuestion: 'behaviour' };
      if (asked < MAX_QUESTIONS) {
        return {
          kind: 'reply',
          reply: `What should the tool do, in one sentence? For example: ${examples}.`,
          intake,
        };
      }
      return {
        kind: 'reply',
        reply: `I can’t build and verify that kind of tool yet. I can build tools like these: ${examples}. Which would help?`,
        intake: { ...intake, questionsAsked: asked },
      };
    }

    const named = detectPlatforms(requestText);
    // Naming an operating system means a program (a web app runs everywhere).
    let artifactType = detectArtifactType(requestText) ?? (named.length ? 'binary' : undefined);
    if (!artifactType) {
      const alreadyAsked = run.intake.pendingQuestion === 'artifact_type' || asked >= MAX_QUESTIONS;
      if (!alreadyAsked) {
        return {
          kind: 'reply',
          reply: `I can build a ${match.title.toLowerCase()}. ${ARTIFACT_TYPE_QUESTION}`,
          intake: { requestText, questionsAsked: asked + 1, pendingQuestion: 'artifact_type' },
        };
      }
      artifactType = 'web';
    }

    const platforms = artifactType === 'web' ? [] : named.length ? named : [...DEFAULT_PLATFORMS];
    const extras = detectExtras(requestText);
    const spec = buildSpec({
      match,
      requestText,
      artifactType,
      platforms,
      title: detectName(requestText) ?? match.title,
      extras: this.buildableExtras(extras),
    });
    return {
      kind: 'quote',
      spec,
      intake: { requestText, questionsAsked: asked },
      reply: this.withExtrasNote(scopeReply(spec), extras),
    };
  }

  /** A message in `quoted`: a change makes a new quote version; anything else keeps the quote. */
  private change(run: BuildRun, current: BuildSpec, text: string, revision = false): IntakeOutcome {
    const keep = (reply: string): IntakeOutcome => ({ kind: 'reply', reply, intake: run.intake });
    if (AFFIRMATION.test(text)) {
      return keep(
        revision
          ? 'Glad it helps. If you want anything changed, tell me here, for example “also for Mac” or a new name.'
          : 'Great. Approve the quote when you are ready and the build starts; progress appears here.',
      );
    }
    // A delivered tool: a plain question is answered by topic (also when it names a platform).
    const asked = revision ? plainQuestion(text) : undefined;
    if (asked) return { kind: 'answer', topic: asked, intake: run.intake };
    const change = readChange(text, current, this.catalog.match(text));
    if (!change) {
      if (revision) return { kind: 'answer', topic: classifyQuestion(text), intake: run.intake };
      return keep(
        'Your current quote stays as it is. ' +
          'I can change the name, whether it is a web app, a program or both, ' +
          'the platforms (Windows, Mac, Linux, Raspberry Pi), or add a small extra such as a history or an export.',
      );
    }
    if (revision && change.recipe && change.recipe.id !== current.recipe) {
      return keep(
        `That would be a different tool (${change.recipe.title.toLowerCase()}), not a change to this one: choose “Build another tool” to start it. Your current tool stays as it is.`,
      );
    }
    const onlyExtras =
      !change.artifactType &&
      !change.platforms &&
      !change.title &&
      !change.recipe &&
      change.extras.length > 0;
    if (onlyExtras && !this.catalog.buildsExtras) {
      return keep(
        `I can’t add ${change.extras.slice(0, 3).join(', ')} to this tool yet, so ${revision ? 'your tool' : 'your current quote'} stays as it is.`,
      );
    }
    const requestText = joinRequest(run.intake.requestText, text);
    const artifactType = change.artifactType ?? current.artifactType;
    const platforms = artifactType === 'web' ? [] : (change.platforms ?? current.platforms);
    const base: CatalogMatch | undefined =
      change.recipe ??
      this.catalog.match(current.requestText) ??
      this.catalog.entries?.().find((e) => e.id === current.recipe);
    const keptExtras = current.features.filter((f) => f.startsWith('Also: ')).map((f) => f.slice(6));
    const spec = buildSpec({
      match: base ?? {
        id: current.recipe ?? '',
        title: current.title,
        description: current.summary,
        features: current.features.filter((f) => !f.startsWith('Also: ')),
        ...(current.checks ? { checks: current.checks } : {}),
      },
      requestText,
      artifactType,
      platforms: platforms.length || artifactType === 'web' ? platforms : [...DEFAULT_PLATFORMS],
      title:
        change.title ?? (change.recipe ? (detectName(requestText) ?? change.recipe.title) : current.title),
      extras: this.buildableExtras([...keptExtras, ...change.extras]),
    });
    return {
      kind: 'quote',
      spec,
      intake: { requestText, questionsAsked: run.intake.questionsAsked },
      reply: this.withExtrasNote(scopeReply(spec, revision ? 'The change' : 'Updated scope'), change.extras),
    };
  }

  /** Extras are quoted only when the configured coder can build them. */
  private buildableExtras(extras: string[]): string[] {
    return this.catalog.buildsExtras ? extras : [];
  }

  private withExtrasNote(reply: string, requested: string[]): string {
    if (this.catalog.buildsExtras || requested.length === 0) return reply;
    return `${reply}\nI can’t add ${requested.slice(0, 3).join(', ')} to this tool yet, so it is not in the scope or the price.`;
  }
}

function buildSpec(input: {
  match: CatalogMatch;
  requestText: string;
  artifactType: ArtifactType;
  platforms: string[];
  title: string;
  extras: string[];
}): BuildSpec {
  const extras = [...new Set(input.extras)].slice(0, 4).map((e) => `Also: ${e}`);
  // The tool's own checks for this artifact type: re-derived on every (re-)quote.
  const checks = checksFor(input.match.checks ?? [], input.artifactType);
  return BuildSpecSchema.parse({
    title: input.title,
    summary: `${capitalise(TYPE_LABEL[input.artifactType])}: ${input.match.description}`.slice(0, 600),
    requestText: input.requestText,
    artifactType: input.artifactType,
    platforms: input.artifactType === 'web' ? [] : [...new Set(input.platforms)].sort(),
    ...(input.match.id ? { recipe: input.match.id } : {}),
    features: [...input.match.features.slice(0, 12 - extras.length), ...extras],
    outOfScope: OUT_OF_SCOPE,
    complexity: extras.length ? 'medium' : 'small',
    ...(checks.length ? { checks } : {}),
  });
}
