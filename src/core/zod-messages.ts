// zod/mini (used for its tree-shakable API, which keeps the consumer bundle small) carries no
// messages of its own: load the English ones once, so that errors say "expected number, received
// string" rather than "Invalid input". Only the English locale is imported, not the whole set.
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());
