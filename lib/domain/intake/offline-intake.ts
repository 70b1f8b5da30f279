import { type ArtifactType, type BuildSpec, BuildSpecSchema, DEFAULT_PLATFORMS } from '../build-spec.ts';
import type { BuildRun, IntakeState } from '../run.ts';
import { detectArtifactType, detectName, detectPlatforms, detectRefusal, type Refusal } from './detect.ts';
import type { IntakeEngine, IntakeOutcome, ToolCatalog } from './engine.ts';

const MAX_QUESTIONS = 2;
const MAX_REQUEST_TEXT = 4000;

export const ARTIFACT_TYPE_QUESTION =
  'Should this be a web app you open in your browser, a program you download and run, or both?';

const REFUSALS: Record<Refusal, string> = {
  harmful:
    'I can’t help build that. I can build small, useful tools such as calculators, converters and checklists.',
  source:
    'This service delivers a verified, working tool rather than its source code or internal details, so I can’t share those. Tell me what the tool should do and I’ll scope it.',
  too_large:
    'That is larger than what I can build and verify here. I build small single-purpose tools, such as calculators, converters, timers and checklists.',
};

const TYPE_LABEL: Record<ArtifactType, string> = {
  web: 'a web app you open in your browser',
  binary: 'a downloadable program',
  both: 'a web app and a downloadable program',
};

export const OUT_OF_SCOPE = [
  'User accounts, servers or databases',
  'Connections to other services or the internet',
  'Source code: you receive the working, verified tool only',
];

/**
 * The offline intake: deterministic, no model. It gathers the request, asks at most two short
 * clarifying questions (what the tool does, when nothing in the catalog matches; whether it is a
 * web app or a program), then writes a validated BuildSpec for the quote.
 */
export class OfflineIntake implements IntakeEngine {
  constructor(private readonly catalog: ToolCatalog) {}

  async respond(run: BuildRun, text: string): Promise<IntakeOutcome> {
    const refusal = detectRefusal(text);
    if (refusal) return { kind: 'reply', reply: REFUSALS[refusal], intake: run.intake };

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

    let artifactType = detectArtifactType(requestText);
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

    const named = detectPlatforms(requestText);
    const platforms = artifactType === 'web' ? [] : named.length ? named : [...DEFAULT_PLATFORMS];
    const spec: BuildSpec = BuildSpecSchema.parse({
      title: detectName(requestText) ?? match.title,
      summary: `${capitalise(TYPE_LABEL[artifactType])}: ${match.description}`,
      requestText,
      artifactType,
      platforms,
      recipe: match.id,
      features: match.features.slice(0, 12),
      outOfScope: OUT_OF_SCOPE,
      complexity: 'small',
    });
    const platformText = platforms.length ? ` for ${platforms.join(', ')}` : '';
    return {
      kind: 'quote',
      spec,
      intake: { requestText, questionsAsked: asked },
      reply:
        `Here is the scope: ${spec.title}, ${TYPE_LABEL[artifactType]}${platformText}. ` +
        `It will ${lowerFirst(match.description)} ` +
        `Not included: ${OUT_OF_SCOPE.map(lowerFirst).join('; ')}. ` +
        'The price is shown with the scope. You pay only for a verified, working tool.',
    };
  }
}

function joinRequest(previous: string, text: string): string {
  const joined = previous ? `${previous}\n${text}` : text;
  return joined.length > MAX_REQUEST_TEXT ? joined.slice(joined.length - MAX_REQUEST_TEXT) : joined;
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
