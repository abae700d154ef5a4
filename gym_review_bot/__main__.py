from gym_review_bot.cli import main

raise SystemExit(main())
